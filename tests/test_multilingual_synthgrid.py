("Multilingual SynthGRID end to end: Hindi and Mandarin clips through prep, one training step, infer "
 "and a CER score.")
import csv, json
from pathlib import Path
import pytest
from l2s_nb.cli import main

SCRIPTS = dict(hi=('\u0900', '\u097f'), cmn=('\u4e00', '\u9fff'))  # Devanagari, CJK ideographs

def rows(path): return list(csv.DictReader(Path(path).open(encoding='utf-8'), delimiter='\t'))

def l2s(*args):
    assert main([str(a) for a in args])==0, args

@pytest.mark.parametrize('language', ['hi', 'cmn'])
def test_synthgrid_prep_train_infer_score(tmp_path, language):
    ("Four speakers of one language (a judge hears one), the fourth unseen so that the judge has "
     "held-out clips.")
    sg, cache, run, gen, ref = (tmp_path/d for d in ('sg', 'cache', 'run', 'gen', 'ref'))
    l2s('synthgrid', sg, '--clips', 4, '--speakers', 4, '--languages', language, '--workers', 1)
    tr = rows(sg/'transcripts.tsv')
    lo, hi = SCRIPTS[language]
    for r in tr:
        assert r['language']==language and all(lo<=c<=hi for c in r['transcript'].replace(' ', '')), r
    l2s('prep', 'synthgrid', sg, cache, '--workers', 0)
    assert ([(r['language'], r['transcript']) for r in rows(cache/'manifest.tsv')]
            == [(language, r['transcript']) for r in tr])
    l2s('train', cache, '--run_dir', run, '--steps', 1, '--batch_size', 1, '--warmup_steps', 1,
        '--val_every', 1, '--ckpt_every', 1, '--threads', 1, '--device', 'cpu')
    ref.mkdir()
    for r in tr:
        spk = sg/r['speaker']
        l2s('infer', spk/'video'/f"{r['id']}.mp4", '--checkpoint', run/'checkpoints'/'last.pt', '--out', gen,
            '--landmarks', spk/'landmarks')
        (ref/f"{r['id']}.wav").write_bytes((spk/'audio'/f"{r['id']}.wav").read_bytes())
    l2s('train-judge', sg, tmp_path/'judge.pt', '--epochs', 1, '--hidden', 16, '--layers', 1)
    l2s('score', ref, gen, '--text', sg/'transcripts.tsv', '--judge', tmp_path/'judge.pt',
        '--out', tmp_path/'score', '--allow_missing')
    summary = json.loads((tmp_path/'score'/'summary.json').read_text())['summary']
    # a one-epoch judge: the chain runs, not a quality bar
    assert summary['cer']['n']==4 and 0<=summary['cer']['mean']<=1.5
    assert summary['cer_ref']['n']==4 and summary['stoi']['n']==4

def test_multilingual_judge(tmp_path, capsys):
    ("One judge for two languages and two scripts: characters of every training transcript, "
     "scores per language.")
    import torch
    sg = tmp_path/'sg'
    l2s('synthgrid', sg, '--clips', 12, '--speakers', 4, '--languages', 'en,cmn', '--workers', 1)
    l2s('train-judge', sg, tmp_path/'judge.pt', '--epochs', 1, '--hidden', 16, '--layers', 1)
    rep = json.loads((tmp_path/'judge.json').read_text())
    assert set(rep['heldout_by_language'])=={'en', 'cmn'}, rep.keys()
    vocab = torch.load(tmp_path/'judge.pt', weights_only=True)['config']['judge']['vocab']
    lo, hi = SCRIPTS['cmn']
    assert vocab['language']=='mul' and 'a' in vocab['symbols'] and any(lo<=c<=hi for c in vocab['symbols'])
    assert main(['train-judge', str(sg), str(tmp_path/'ph.pt'), '--unit', 'phoneme', '--epochs', '1'])==2
    assert 'a multilingual judge writes characters' in capsys.readouterr().err

def test_vca_gan_language_embedding_through_the_cli(tmp_path, capsys):
    ("VCA-GAN with a language embedding: trained on two languages, spoken with `l2s infer --language`; "
     "a missing or unknown language is a clear error.")
    sg, cache, run, gen = (tmp_path/d for d in ('sg', 'cache', 'run', 'gen'))
    l2s('synthgrid', sg, '--clips', 4, '--speakers', 2, '--languages', 'hi,cmn', '--workers', 1)
    l2s('prep', 'synthgrid', sg, cache, '--workers', 0)
    l2s('train', cache, '--recipe', 'vca_gan', '--preset', 'tiny', '--set', 'languages=[cmn,hi]',
        '--run_dir', run, '--steps', 1, '--batch_size', 2, '--warmup_steps', 1, '--val_every', 1,
        '--ckpt_every', 1, '--threads', 1, '--device', 'cpu')
    r = next(r for r in rows(sg/'transcripts.tsv') if r['language']=='hi')
    spk, ck = sg/r['speaker'], run/'checkpoints'/'last.pt'
    video = spk/'video'/f"{r['id']}.mp4"
    l2s('infer', video, '--checkpoint', ck, '--out', gen, '--landmarks', spk/'landmarks', '--language', 'hi')
    assert (gen/f"{r['id']}.wav").stat().st_size > 0
    capsys.readouterr()
    errors = (([], "pass the clips' language"), (['--language', 'ru'], "clip language 'ru' is not one"))
    for extra, message in errors:
        assert main(['infer', str(video), '--checkpoint', str(ck), '--out', str(tmp_path/'x'),
                     '--landmarks', str(spk/'landmarks'), *extra])==2
        assert message in capsys.readouterr().err
