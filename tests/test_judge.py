"Judge training and scoring from the command line, on a tiny SynthGRID corpus made on the fly."
import json
import pytest, torch
from conftest import l2s

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp('sg')/'corpus'
    r = l2s('synthgrid', out, '--clips', 16, '--speakers', 2, '--seed', 1, '--workers', 2)
    assert r.returncode == 0, r.stderr
    return out

def test_train_then_score_judge(corpus, tmp_path):
    ck, res = tmp_path/'judge.pt', tmp_path/'judge.json'
    r = l2s('train-judge', corpus, ck, '--results', res, '--epochs', 2, '--hidden', 16, '--layers', 1,
            '--splice', 0.5, '--cache', tmp_path/'mels.npz')
    assert r.returncode == 0, r.stderr
    rep = json.loads(res.read_text())
    assert rep['n_train'] > 0 and rep['heldout'] and len(rep['history']) == 2
    split = next(iter(rep['heldout'].values()))
    # GRID grammar: six slots
    assert 0 <= split['wer'] and 0 <= split['greedy_wer'] and len(split['slot_accuracy']) == 6
    ckpt = torch.load(ck, weights_only=True)
    assert len(ckpt['config']['judge']['grammar']) == 6 and ckpt['config']['judge']['n_layers'] == 1
    r = l2s('score-judge', ck, corpus, '--out', tmp_path/'again.json', '--cache', tmp_path/'mels.npz')
    assert r.returncode == 0, r.stderr
    again = json.loads((tmp_path/'again.json').read_text())
    # the fp16 checkpoint re-scores like the fp32 model it was saved from
    assert again['heldout'].keys() == rep['heldout'].keys()
    assert all(abs(again['heldout'][k]['wer']-v['wer']) <= 0.1 for k,v in rep['heldout'].items())
    r = l2s('train-judge', corpus, tmp_path/'plain.pt', '--epochs', 1, '--hidden', 16, '--layers', 1,
            '--no-grammar', '--cache', tmp_path/'mels.npz')
    assert r.returncode == 0, r.stderr
    assert torch.load(tmp_path/'plain.pt', weights_only=True)['config']['judge']['grammar'] == []

def test_score_judge_bad_checkpoint(corpus, tmp_path):
    (tmp_path/'bad.pt').write_text('not a checkpoint')
    r = l2s('score-judge', tmp_path/'bad.pt', corpus)
    assert r.returncode == 2 and 'bad.pt' in r.stderr and 'Traceback' not in r.stderr

def test_committed_synthgrid_judge_on_fresh_clips(tmp_path):
    ("The committed SynthGRID judge still reads what today's generator says: "
     "its first 64 clips are the judge corpus's first 64.")
    from conftest import ROOT
    recorded = json.loads((ROOT/'data'/'results'/'judge_synthgrid.json').read_text())
    out = tmp_path/'sg'
    # the judge's corpus: runs/sg3200 in nbs/51_judge.ipynb
    r = l2s('synthgrid', out, '--clips', 64, '--speakers', 8, '--seed', 0, '--workers', 2)
    assert r.returncode == 0, r.stderr
    r = l2s('score-judge', ROOT/'data'/'checkpoints'/'judge_synthgrid.pt', out, '--out', tmp_path/'rep.json')
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path/'rep.json').read_text())
    assert rep['train']['wer'] <= 2*recorded['train']['wer'] + 0.02, rep['train']
    unseen = rep['heldout']['unseen']  # 16 clips of the two speakers the judge never heard
    assert unseen['n'] == 16 and unseen['wer'] <= 2*recorded['heldout']['unseen']['wer'] + 0.05, unseen
