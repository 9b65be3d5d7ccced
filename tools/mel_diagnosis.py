"""Where a lip-to-speech model loses intelligibility, measured: the recordings' mels are degraded, and mixed
with the model's predicted mels, one property at a time (temporal detail, spectral detail, the loudness contour,
the pauses); each variant is vocoded and scored like any row (STOI, ESTOI, PESQ, MCD, judge WER) on a cache's
validation clips.

    python tools/mel_diagnosis.py data/checkpoints/multitask_base_grid_s1.pt /work/runs/cache/grid_s1_mouth \\
        --root ../shared/grid --out data/results/mel_diagnosis_grid_s1.json

The post-filters (`predicted_sharpened`, `predicted_gv`) ask whether a cheap fix at inference recovers what is
lost; `predicted_gv`'s per-band scale comes from training clips only.
"""
import argparse, json, sys
from pathlib import Path
import numpy as np, torch
from scipy.ndimage import gaussian_filter1d

sys.path.insert(0, str(Path(__file__).parent))
from score_ablation import paired, score_mels, write_refs  # noqa: E402

def loudness(m:np.ndarray)->np.ndarray: return m.mean(0)  # mean log-mel of each frame (F,)

def frame_change(m:np.ndarray)->float: return float(np.abs(np.diff(m, 1, 1)).mean())  # mean |d log-mel / dt|

def swap_loudness(shape:np.ndarray, loud:np.ndarray)->np.ndarray:
    "The spectral shape of log-mel `shape` (n_mels, F) with the per-frame loudness of `loud`."
    return shape - loudness(shape) + loudness(loud)

def quiet(m:np.ndarray, q:float=0.25)->np.ndarray:
    "Mask (F,) of the quietest fraction `q` of the frames of log-mel `m`: the pauses and closures."
    return loudness(m) <= np.quantile(loudness(m), q)

def true_pauses(truth:np.ndarray, pred:np.ndarray, q:float=0.25)->np.ndarray:
    "`pred` with the truth's quietest fraction `q` of frames put back."
    return np.where(quiet(truth, q), truth, pred)

def pause_mean(truth:np.ndarray, pred:np.ndarray, q:float=0.25)->np.ndarray:
    "`pred` with the truth's quietest fraction `q` of frames set to their mean spectrum (level, no texture)."
    mask = quiet(truth, q)
    return np.where(mask, truth[:, mask].mean(1, keepdims=True), pred)

def sharpen(m:np.ndarray, sigma:float=2, amount:float=0.5)->np.ndarray:
    "Unsharp masking in time: `m` plus `amount` times its difference from a Gaussian blur of `sigma` frames."
    return m + amount*(m - gaussian_filter1d(m, sigma, 1))

def gv_scale(truths:list, preds:list)->np.ndarray:
    "Per-band ratio (n_mels,) of the recordings' to the predictions' within-clip standard deviation."
    var = lambda ms: np.mean([m.var(1) for m in ms], 0)
    return np.sqrt(var(truths)/var(preds))

def gv_filter(m:np.ndarray, scale:np.ndarray)->np.ndarray:
    "Global-variance post-filter: each band's deviation from its clip mean scaled by `scale` (n_mels,)."
    mu = m.mean(1, keepdims=True)
    return mu + scale[:, None]*(m - mu)

VARIANTS = {  # name -> (what it is, f(truth, pred, gv) -> log-mel)
    'truth': ("the recordings' mels (the vocoder's ceiling)", lambda t,p,g: t),
    'truth_blur_t1': ('truth smoothed in time, Gaussian sigma 10 ms', lambda t,p,g: gaussian_filter1d(t, 1, 1)),
    'truth_blur_t2': ('truth smoothed in time, sigma 20 ms', lambda t,p,g: gaussian_filter1d(t, 2, 1)),
    'truth_blur_t4': ('truth smoothed in time, sigma 40 ms', lambda t,p,g: gaussian_filter1d(t, 4, 1)),
    'truth_blur_f2': ('truth smoothed across mel bands, sigma 2 bands',
                      lambda t,p,g: gaussian_filter1d(t, 2, 0)),
    'truth_blur_f4': ('truth smoothed across mel bands, sigma 4 bands',
                      lambda t,p,g: gaussian_filter1d(t, 4, 0)),
    'truth_shape_predicted_loudness': ("the truth's spectral shape with the prediction's loudness contour",
                                       lambda t,p,g: swap_loudness(t, p)),
    'predicted': ("the model's mels", lambda t,p,g: p),
    'predicted_shape_true_loudness': ("the prediction's spectral shape with the truth's loudness contour",
                                      lambda t,p,g: swap_loudness(p, t)),
    'predicted_true_pauses': ("the prediction with the truth's quietest quarter of frames",
                              lambda t,p,g: true_pauses(t, p)),
    'predicted_pause_spectrum': ("the prediction with those frames set to their mean spectrum (no texture)",
                                 lambda t,p,g: pause_mean(t, p)),
    'predicted_sharpened': ('post-filter: unsharp masking in time (sigma 20 ms, amount 0.5)',
                            lambda t,p,g: sharpen(p)),
    'predicted_gv': ('post-filter: global variance scaled to the recordings (scale from training clips)',
                     lambda t,p,g: gv_filter(p, g)),
}

def mel_stats(truth:np.ndarray, pred:np.ndarray, max_lag:int=12)->dict:
    ("How the prediction moves against the truth: mean |frame-to-frame change| of each, the loudness "
     "correlation, and how many mel frames late the prediction's loudness is (the lag that maximises it).")
    lt, lp, e = loudness(truth), loudness(pred), max_lag
    cc = [np.corrcoef(lt[e:-e], np.roll(lp, -k)[e:-e])[0, 1] for k in range(-e, e + 1)]
    return dict(delta_truth=frame_change(truth), delta_predicted=frame_change(pred),
                loudness_corr=float(np.corrcoef(lt, lp)[0, 1]), loudness_lag=int(np.argmax(cc)) - e,
                loudness_sd_truth=float(lt.std()), loudness_sd_predicted=float(lp.std()))

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoint', help='a lip-to-speech release or training checkpoint (no text input)')
    ap.add_argument('cache', help='prep cache of the region the checkpoint reads')
    ap.add_argument('--root', required=True, help='the corpus root (its recordings are the references)')
    ap.add_argument('--out', required=True); ap.add_argument('--work', default='runs/mel_diagnosis')
    ap.add_argument('--n_train', type=int, default=100, help='training clips that set the gv post-filter')
    ap.add_argument('--vocoder', default='griffin_lim')
    ap.add_argument('--judge', default='data/checkpoints/judge_grid_s1.pt')
    a = ap.parse_args(argv)
    from l2s_nb.cache import CacheReader
    from l2s_nb.config import AudioConfig, run_info
    from l2s_nb.datasets import crop_frames
    from l2s_nb.judge import load_judge
    from l2s_nb.recipes import load_recipe
    from l2s_nb.vocoder import load_vocoder
    torch.set_num_threads(1)
    model = load_recipe(a.checkpoint)
    if model.needs_text: raise SystemExit(f'{a.checkpoint}: a {model.name} model needs text; diagnose one '
                                          'that speaks from the video alone')
    r = CacheReader(a.cache, video=model.video)
    def speak(rec):
        mouth = crop_frames(rec['mouth'], model.video.crop_size).astype(np.float32)/255
        return model.generate(torch.from_numpy(mouth)[None])[0].numpy()
    train = [row for row in r.rows if row['split'] == 'train']
    train = train[::max(1, len(train)//a.n_train)][:a.n_train]
    recs = [r.load(row) for row in train]
    gv = gv_scale([rec['mel'].astype(np.float32) for rec in recs], [speak(rec) for rec in recs])
    val = [row for row in r.rows if row['split'] == 'val']
    recs = {row['id']: r.load(row) for row in val}
    work = Path(a.work); texts = write_refs(recs, r.video, a.root, work/'ref')
    truth = {i: rec['mel'].astype(np.float32) for i, rec in recs.items()}
    pred = {i: speak(rec) for i, rec in recs.items()}
    judge, voc = load_judge(a.judge), load_vocoder(a.vocoder, AudioConfig())
    res = dict(what=__doc__.split('\n\n')[0].replace('\n', ' '),
               command=' '.join(['python tools/mel_diagnosis.py',
                                 *(argv if argv is not None else sys.argv[1:])]),
               checkpoint=a.checkpoint, step=model.step, vocoder=a.vocoder, judge=judge.name, n=len(val),
               gv_scale=dict(n_train=len(train), min=round(float(gv.min()), 3), mean=round(float(gv.mean()), 3),
                             max=round(float(gv.max()), 3)),
               variants={}, paired={})
    stats = [mel_stats(truth[i], pred[i]) for i in truth]
    res['stats'] = {k: round(float(np.mean([s[k] for s in stats])), 4) for k in stats[0] if k != 'loudness_lag'}
    lags = [s['loudness_lag'] for s in stats]
    res['stats']['loudness_lag_counts'] = {k: lags.count(k) for k in sorted(set(lags))}
    clips = {}
    for name, (what, f) in VARIANTS.items():
        mels = {i: f(truth[i], pred[i], gv) for i in truth}
        scores, clips[name] = score_mels(mels, work/'ref', work/name, texts, judge, voc)
        delta = np.mean([frame_change(m) for m in mels.values()])  # the temporal detail left
        res['variants'][name] = dict(what=what, delta=round(float(delta), 4), scores=scores)
        print(name, *(f"{k}={scores[k]['mean']:.3f}" for k in ('stoi', 'estoi', 'pesq_wb', 'wer')), flush=True)
    res['paired'] = {f'{n} - predicted': paired(clips[n], clips['predicted'])
                     for n in VARIANTS if n.startswith('predicted_')}
    res['run_info'] = run_info()
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res

if __name__ == '__main__': main()
