("`l2s score`, the signal metrics and the judge: properties, agreement with the reference implementations, "
 "bad input.")
import csv, json
from pathlib import Path
import numpy as np, pytest, jiwer
from pesq import pesq as ref_pesq
from pystoi import stoi as ref_stoi
from conftest import l2s, ROOT
from l2s_nb.audio import load_audio, save_audio, log_mel, resample
from l2s_nb.config import MediaError
from l2s_nb.metrics import (METRICS, HIGHER_IS_BETTER, PESQ_RANGE, LengthMismatchError, score_pair, stoi,
                            pesq, mcd, score_cli)
from l2s_nb.judge import Judge, load_judge, wer, cer, spell_digits
from l2s_nb.metrics import read_transcripts
from l2s_nb.text import normalize_text

GRID_JUDGE = ROOT/'data'/'checkpoints'/'judge_grid_s1.pt'

def noisy(x, snr_db, seed=0):
    n = np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    return x + n*np.sqrt((x**2).mean()/(n**2).mean()/10**(snr_db/10))

@pytest.fixture
def speech(grid_root):
    "A real GRID s1 utterance (skips where ../shared/grid is absent)."
    return load_audio(grid_root/'audio'/'bbaf3s.flac')

def test_identical_signals_score_at_max(speech):
    s = score_pair(speech, speech)
    assert s['stoi'] == pytest.approx(1, abs=1e-6) and s['estoi'] == pytest.approx(1, abs=1e-6)
    assert s['pesq_wb'] == pytest.approx(PESQ_RANGE['wb'][1], abs=0.01)
    assert s['pesq_nb'] == pytest.approx(PESQ_RANGE['nb'][1], abs=0.01)
    assert s['mcd'] == 0 and s['lsd'] == 0 and s['mel_l1'] == 0

def test_noise_lowers_scores_monotonically(speech):
    scores = [score_pair(speech, noisy(speech, snr)) for snr in (30, 20, 10, 0)]
    for k in METRICS:
        v = np.diff([s[k] for s in scores])
        assert (v < 0).all() if HIGHER_IS_BETTER[k] else (v > 0).all(), (k, [s[k] for s in scores])

def test_agreement_with_pystoi_and_pesq(speech):
    deg = noisy(speech, 10, seed=3)
    s = score_pair(speech, deg)
    a, b = speech.astype(np.float64), deg.astype(np.float64)
    # ESTOI's float sums differ in the last bit between calls
    assert s['stoi'] == pytest.approx(ref_stoi(a, b, 16000), abs=1e-12)
    assert s['estoi'] == pytest.approx(ref_stoi(a, b, 16000, extended=True), abs=1e-12)
    assert s['pesq_wb'] == ref_pesq(16000, speech, deg, 'wb')
    assert s['pesq_nb'] == ref_pesq(8000, resample(speech, 16000, 8000), resample(deg, 16000, 8000), 'nb')

def test_mcd_of_time_shifted_copy_near_zero_with_dtw(speech):
    shifted = np.concatenate([np.zeros(800, np.float32), speech])[:len(speech)]  # 50 ms later, same length
    a, b = log_mel(speech), log_mel(shifted)
    assert mcd(a, b) < 0.3 and mcd(a, b, dtw=False) > 2  # measured: 0.07 dB with DTW, 2.7 dB frame by frame
    # not a whole hop: frames differ a little
    odd = np.concatenate([np.zeros(37, np.float32), speech])[:len(speech)]
    assert mcd(a, log_mel(odd)) < 1.0

def test_judge_wer_on_perturbed_transcripts_matches_jiwer():
    refs = ['bin blue at f three soon', 'lay green by z nine please', 'set white with k two again',
            'place red in a one now']
    rng = np.random.default_rng(0)
    words = sorted({w for r in refs for w in r.split()})
    def perturb(r):
        w = r.split()
        for _ in range(rng.integers(0, 3)):
            op, i = rng.integers(0, 3), rng.integers(0, len(w))
            if op == 0: w[i] = str(rng.choice(words))
            elif op == 1 and len(w) > 1: del w[i]
            else: w.insert(i, str(rng.choice(words)))
        return ' '.join(w)
    for trial in range(20):
        hyps = [perturb(r) for r in refs]
        judge = Judge(lambda wavs, langs, h=hyps: [h.upper() + '.' for h in h], name='perturbed')
        r = judge.evaluate([np.zeros(16000, np.float32)]*len(refs), refs)
        assert (r['wer'] == pytest.approx(jiwer.wer(refs, hyps))
                and r['cer'] == pytest.approx(jiwer.cer(refs, hyps)))
    assert spell_digits('set white with k 2 again') == 'set white with k two again'

def _write_pairs(tmp_path, wav, n=3, gen_len=None):
    for k in range(n):
        save_audio(tmp_path/'ref'/f'u{k}.wav', wav)
        g = noisy(wav, 20 - 10*k, seed=k)
        save_audio(tmp_path/'gen'/f'u{k}.wav',
                   np.pad(g, (0, max(0, (gen_len or len(g)) - len(g))))[:gen_len or len(g)])

def test_score_cli_outputs(tmp_path, speech):
    # 75 video frames x 640 samples: 22 ms longer than the recording
    _write_pairs(tmp_path, speech, gen_len=48000)
    res = score_cli(tmp_path/'ref', tmp_path/'gen', out=tmp_path/'out')
    rows = list(csv.DictReader(open(tmp_path/'out'/'per_utterance.csv')))
    assert [r['id'] for r in rows] == ['u0', 'u1', 'u2'] and float(rows[0]['len_diff_ms']) == 22.0
    assert float(rows[0]['stoi']) > float(rows[1]['stoi']) > float(rows[2]['stoi'])
    s = json.loads((tmp_path/'out'/'summary.json').read_text())['summary']
    assert s['stoi']['lo'] <= s['stoi']['mean'] <= s['stoi']['hi'] and s['stoi']['n'] == 3
    assert '| STOI | ↑ |' in (tmp_path/'out'/'summary.md').read_text()
    assert (tmp_path/'out'/'distributions.png').stat().st_size > 0

def test_length_mismatch_beyond_tolerance_names_the_file(tmp_path, speech):
    _write_pairs(tmp_path, speech, n=1)
    save_audio(tmp_path/'gen'/'u0.wav', speech[:len(speech) - 4000])  # 250 ms short
    with pytest.raises(LengthMismatchError,
                       match=r'gen/u0.wav: is 2.728 s long but its reference is 2.978 s'):
        score_cli(tmp_path/'ref', tmp_path/'gen', out=tmp_path/'out')
    assert isinstance(LengthMismatchError('x', 'y'), MediaError)

def test_bad_inputs(tmp_path, speech):
    _write_pairs(tmp_path, speech, n=1)
    with pytest.raises(MediaError, match='nope: folder not found'):
        score_cli(tmp_path/'ref', tmp_path/'nope', out=tmp_path/'o')
    (tmp_path/'t.tsv').write_text('id\ttranscript\nu0\tbin blue at f three soon\n')
    with pytest.raises(Exception, match='need both transcripts'):
        score_cli(tmp_path/'ref', tmp_path/'gen', text=tmp_path/'t.tsv', out=tmp_path/'o')
    with pytest.raises(MediaError, match='judge checkpoint not found'): load_judge(str(tmp_path/'missing.pt'))

def test_l2s_score_command(tmp_path, speech):
    from l2s_nb.cli import COMMANDS
    if 'score' not in COMMANDS: pytest.skip('score is not registered in l2s_nb.cli yet')
    _write_pairs(tmp_path, speech, n=2)
    r = l2s('score', tmp_path/'ref', tmp_path/'gen', '--out', tmp_path/'out')
    assert r.returncode == 0, r.stderr
    assert '| PESQ wb@16k |' in r.stdout and (tmp_path/'out'/'summary.json').exists()
    save_audio(tmp_path/'gen'/'u1.wav', speech[:8000])
    r = l2s('score', tmp_path/'ref', tmp_path/'gen', '--out', tmp_path/'out')
    assert r.returncode == 2 and 'u1.wav: is 0.500 s long' in r.stderr and 'Traceback' not in r.stderr

@pytest.fixture
def grid_judge():
    if not GRID_JUDGE.exists(): pytest.skip('no committed GRID judge checkpoint')
    return load_judge(str(GRID_JUDGE))

def test_grid_judge_on_held_out_clips(grid_root, grid_judge):
    texts = read_transcripts(grid_root/'transcripts.tsv')
    rows = csv.DictReader(open(ROOT/'data'/'grid_s1_split.tsv'), delimiter='\t')
    held = [r['id'] for r in rows if r['split'] == 'val']
    wavs = [load_audio(grid_root/'audio'/f'{i}.flac') for i in held]
    r = grid_judge.evaluate(wavs, [texts[i] for i in held])
    # The committed fp16 checkpoint reproduces the WER recorded for the fp32 model it was saved from
    # (to within two of the 300 words), and that WER meets issue #5's target of <= 3% on the 50 held-out
    # recordings.
    recorded = json.loads((ROOT/'data'/'results'/'judge_grid_s1.json').read_text())['heldout']['val']['wer']
    assert len(held) == 50 and r['wer'] <= recorded + 2/300, list(zip(held, r['hyps']))
    assert recorded <= 0.03
    # unintelligible: the judge must not hallucinate the grammar
    noise = [noisy(w, -10, seed=k) for k, w in enumerate(wavs)]
    assert grid_judge.evaluate(noise, [texts[i] for i in held])['wer'] > 0.5

def test_score_cli_with_judge(tmp_path, grid_root, grid_judge):
    ids = ['bbaf3s', 'bbaf4p']
    for i in ids:
        wav = load_audio(grid_root/'audio'/f'{i}.flac')
        save_audio(tmp_path/'gen'/f'{i}.wav', noisy(wav, 15))
    # the reference folder is the whole speaker: 998 references have no generated file
    res = score_cli(grid_root/'audio', tmp_path/'gen', text=grid_root/'transcripts.tsv',
                    judge=str(GRID_JUDGE), out=tmp_path/'out', allow_missing=True)
    assert res['n'] == 2 and {'wer', 'cer', 'wer_ref', 'cer_ref'} <= set(res['summary'])
    rows = list(csv.DictReader(open(tmp_path/'out'/'per_utterance.csv')))
    assert rows[0]['text'] == 'bin blue at f three soon' and 'hyp' in rows[0] and 'hyp_ref' in rows[0]

def test_paired_differences_of_per_clip_scores():
    "`tools/score_ablation.paired`: per-clip a - b, WER as a difference of corpus WERs, 'better' by direction."
    import sys; sys.path.insert(0, str(ROOT/'tools'))
    from score_ablation import paired
    a = [dict(id=f'c{i}', stoi=0.6+0.01*i, mcd=2.0, wer=e/6, _counts=dict(wer=(e, 6)))
         for i,e in enumerate([0, 1, 0, 2])]
    b = [dict(id=f'c{i}', stoi=0.6, mcd=2.5, wer=e/6, _counts=dict(wer=(e, 6)))
         for i,e in enumerate([1, 1, 2, 2])]
    d = paired(a, b + [dict(id='extra', stoi=0.1)], keys=('stoi', 'mcd', 'wer'))
    assert d['stoi']['mean'] == pytest.approx(0.015) and d['stoi']['better'] == 3 and d['stoi']['n'] == 4
    assert d['mcd']['mean'] == -0.5 and d['mcd']['better'] == 4  # lower MCD is better
    assert d['wer']['mean'] == pytest.approx(-3/24, abs=1e-4) and d['wer']['better'] == 2
    assert d['wer']['lo'] <= d['wer']['mean'] <= d['wer']['hi'] <= 0

def test_finetune_results_collects_runs_and_names_pairs(tmp_path):
    "`tools/finetune_results.py`: rows and pairs named by run, validation logs, judges; bad --runs refused."
    import sys; sys.path.insert(0, str(ROOT/'tools'))
    import finetune_results
    run = tmp_path/'ft_a'; run.mkdir()
    (run/'log.jsonl').write_text(json.dumps(dict(step=5, split='train', loss=2.0)) + '\n'
                                 + json.dumps(dict(step=10, split='val', loss=1.234567)) + '\n')
    s = lambda v: dict(mean=v, lo=v, hi=v, n=50)
    score = dict(command='python tools/score_checkpoints.py c.pt a.pt --paired', vocoder='griffin_lim',
                 judge='judge_grid_s1', rows={'c.pt': dict(step=3, metrics={}, scores=dict(wer=s(0.2))),
                                              'a.pt': dict(step=10, metrics={}, scores=dict(wer=s(0.1)))},
                 paired={'a.pt - c.pt': dict(wer=dict(mean=-0.1, lo=-0.2, hi=0.0, better=9, n=50))})
    (tmp_path/'score.json').write_text(json.dumps(score))
    (tmp_path/'cmds.json').write_text(json.dumps(dict(a='l2s train ...')))
    judge = dict(heldout=dict(val=dict(wer=0.4, cer=0.2)), train=dict(wer=0.3), n_params=7,
                 train_seconds=1.0, history=[dict(val_wer=0.9), dict(val_wer=0.4)])
    (tmp_path/'judge.json').write_text(json.dumps(judge))
    args = [str(tmp_path/'score.json'), '--runs', 'control==c.pt', f'content={run}=a.pt',
            '--judges', f"cj={tmp_path/'judge.json'}", '--commands', str(tmp_path/'cmds.json'),
            '--what', 'a test', '--out', str(tmp_path/'out.json')]
    res = finetune_results.main(args)
    assert list(res['rows']) == ['control', 'content'] and list(res['paired']) == ['content - control']
    assert res['rows']['content']['val_log'] == [dict(step=10, split='val', loss=1.2346)]
    assert res['content_judges']['cj']['val_wer_by_epoch'] == [0.9, 0.4]
    assert json.loads((tmp_path/'out.json').read_text())['rows']['control']['val_log'] == []
    with pytest.raises(SystemExit, match='no --runs entry'): finetune_results.main(args[:3] + args[4:])
    with pytest.raises(SystemExit, match='NAME=RUN_DIR=RELEASE'):
        finetune_results.main([args[0], '--runs', 'control=c.pt', *args[4:]])
    with pytest.raises(SystemExit, match='NAME=RESULTS'):
        finetune_results.main(args[:5] + ['judge.json'] + args[6:])

def test_release_results_training_stages(tmp_path):
    "`tools/release_results.py`: the stages of the earlier release, then the new run's settings, time and command."
    import sys; sys.path.insert(0, str(ROOT/'tools'))
    import release_results
    from l2s_nb.train import TrainConfig, fit
    from test_train import ToyLipData, collate, micro_model, CFG
    first = dict(train=dict(steps=3500, batch_size=8, lr=1.5e-3, threads=1, minutes=90.1, command='run 1'))
    stages = release_results.stages_of(first, 'base.json')
    assert stages == [dict(steps=3500, batch_size=8, lr=1.5e-3, threads=1, minutes=90.1, command='run 1',
                           results='base.json')]
    assert release_results.stages_of(dict(training=stages), 'release.json') == stages
    with pytest.raises(SystemExit, match='other.json: neither'): release_results.stages_of({}, 'other.json')
    fit(micro_model(), ToyLipData(8), None, TrainConfig(**{**CFG, 'ema': 0.9}), tmp_path/'run', collate)
    st = release_results.run_stage(tmp_path/'run', 'l2s train ...', threads=2)
    assert (st['steps'], st['batch_size'], st['lr'], st['ema'], st['threads'], st['command']) == (
        6, 2, 3e-3, 0.9, 2, 'l2s train ...')
    assert 0 <= st['minutes'] < 5 and st['run_info']['recipe'] == 'multitask'

def test_mel_diagnosis_variants():
    "`tools/mel_diagnosis.py`'s mixtures keep what they say they keep, and its lag finds a late prediction."
    import sys; sys.path.insert(0, str(ROOT/'tools'))
    from mel_diagnosis import (gv_filter, gv_scale, loudness, mel_stats, pause_mean, quiet, sharpen,
                               swap_loudness, true_pauses)
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(80, 200)), rng.normal(size=(80, 200))
    mix = swap_loudness(t, p)
    assert np.allclose(loudness(mix), loudness(p)) and np.allclose(mix - loudness(mix), t - loudness(t))
    assert np.allclose(swap_loudness(t, t), t)
    q, tp, pm = quiet(t), true_pauses(t, p), pause_mean(t, p)
    assert q.sum() == 50 and loudness(t)[q].max() < loudness(t)[~q].min()
    assert np.array_equal(tp[:, q], t[:, q]) and np.array_equal(tp[:, ~q], p[:, ~q])
    assert np.allclose(pm[:, q], t[:, q].mean(1, keepdims=True)) and np.array_equal(pm[:, ~q], p[:, ~q])
    smooth = t.mean(1, keepdims=True) + 0.5*(t - t.mean(1, keepdims=True))  # half the truth's deviations
    assert np.allclose(gv_scale([t], [smooth]), 2) and np.allclose(gv_filter(smooth, gv_scale([t], [smooth])), t)
    flat, step = np.ones((80, 50)), np.repeat(np.r_[np.zeros(25), np.ones(25)][None], 80, 0)
    assert np.allclose(sharpen(flat), flat)
    assert np.abs(np.diff(sharpen(step), 1, 1)).max() > np.abs(np.diff(step, 1, 1)).max()
    s = mel_stats(t, np.roll(t, 3, 1))
    assert s['loudness_lag'] == 3 and s['delta_truth'] == pytest.approx(s['delta_predicted'], rel=0.05)
    assert mel_stats(t, t)['loudness_lag'] == 0 and mel_stats(t, t)['loudness_corr'] == pytest.approx(1)
