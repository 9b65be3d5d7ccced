"""Score what `tools/gpu_ablation.py` brought back from a GPU machine, on any machine with the corpus: each row's
predicted mels of the 50 GRID s1 validation clips go through the vocoder and are scored against the recordings
(STOI, ESTOI, PESQ, MCD, GRID-judge WER/CER, 95% CIs), beside the oracle and mean-speech rows of the same clips.
Each row's int8 transfer weights become an fp16 release checkpoint, and the mels it generates here are compared with
the GPU's (the int8 round trip must not change the speech).

    python tools/score_ablation.py /work/.device/files gpu/caches ../shared/grid \\
        --out data/results/ablation_grid_s1.json --checkpoints runs/ablation
"""
import argparse, io, json, sys, tarfile
from pathlib import Path
import numpy as np, torch

sys.path.insert(0, str(Path(__file__).parent))
from gpu_ablation import unpack_weights  # noqa: E402

def row_mels(runs_tar:Path)->dict:
    "Row name -> {clip id: log-mel (n_mels, F) float32} from `runs.tar.gz`."
    out = {}
    with tarfile.open(runs_tar) as tar:
        for m in tar.getmembers():
            if m.name.endswith('_mels.npz'):
                with np.load(io.BytesIO(tar.extractfile(m).read())) as z:
                    out[m.name.split('/')[0]] = {k: z[k].astype(np.float32) for k in z.files}
    return out

def write_refs(recs:dict, video, root, refs:Path)->dict:
    ("Write the recording of each loaded cache record in `recs` ({clip id: record}), fitted to its video's "
     "length, into `refs` (once) as the reference audio; return {clip id: transcript}.")
    from l2s_nb.audio import load_audio, save_audio
    from l2s_nb.config import AudioConfig
    from l2s_nb.corpora import read_corpus
    from l2s_nb.prep import fit_audio
    audio_of = {c.id: Path(root)/c.audio for c in read_corpus('grid', root, skipped=[])}
    for i, rec in recs.items():
        if not (refs/f'{i}.wav').exists():
            save_audio(refs/f'{i}.wav', fit_audio(load_audio(audio_of[i], 16000), len(rec['mouth']),
                                                  AudioConfig(), video, 0.2, i))
    return {i: str(rec['text']) for i, rec in recs.items()}

def score_mels(mels:dict, refs:Path, out:Path, texts:dict, judge, vocoder)->tuple[dict, list]:
    "Vocode `mels` into `out`, score them against the recordings in `refs`: (summary, per-clip rows)."
    from l2s_nb.audio import save_audio
    from l2s_nb.metrics import pair_files, score_files, summarize
    for k, m in mels.items(): save_audio(out/f'{k}.wav', vocoder(torch.from_numpy(m)[None])[0])
    rows = score_files(pair_files(refs, out, ids=set(mels)), texts, judge)
    return summarize(rows), rows

def paired(a:list, b:list, keys=('stoi', 'estoi', 'pesq_wb', 'pesq_nb', 'wer'), n_boot:int=2000)->dict:
    ("Per-clip differences a - b of two `score_files` row lists of the same clips: mean, bootstrap 95% "
     "interval, clips better. WER is the difference of corpus WERs, from each clip's word errors.")
    from l2s_nb.metrics import HIGHER_IS_BETTER
    a, b = ({r['id']: r for r in rows} for rows in (a, b))
    ids, rng, out = sorted(set(a) & set(b)), np.random.default_rng(0), {}
    for k in keys:
        ok = [i for i in ids if a[i].get(k) is not None and b[i].get(k) is not None]
        if not ok: continue
        if k in ('wer', 'cer'):  # errors and words per clip: a difference of ratios, not a mean of them
            e = np.array([a[i]['_counts'][k][0] - b[i]['_counts'][k][0] for i in ok], float)
            n = np.array([a[i]['_counts'][k][1] for i in ok], float)
            idx = rng.integers(0, len(ok), (n_boot, len(ok)))
            mean, boot, d = e.sum()/n.sum(), e[idx].sum(1)/n[idx].sum(1), e
        else:
            d = np.array([a[i][k] - b[i][k] for i in ok])
            mean, boot = d.mean(), rng.choice(d, (n_boot, len(d))).mean(1)
        out[k] = dict(mean=round(float(mean), 4), lo=round(float(np.quantile(boot, 0.025)), 4),
                      hi=round(float(np.quantile(boot, 0.975)), 4),
                      better=int((d > 0).sum() if HIGHER_IS_BETTER[k] else (d < 0).sum()), n=len(d))
    return out

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('files',
                    help="folder of gpu_ablation.py's output (ablation.json, runs.tar.gz, *.int8.pt)")
    ap.add_argument('caches',
                    help='folder of the prep caches the rows trained on, one per region (as gpu_ablation.py)')
    ap.add_argument('root', help='the corpus root (its recordings are the references)')
    ap.add_argument('--out', default='data/results/ablation_grid_s1.json')
    ap.add_argument('--checkpoints', default='runs/ablation',
                    help='folder for the fp16 release checkpoints and wavs')
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
    files, work = Path(a.files), Path(a.checkpoints); work.mkdir(parents=True, exist_ok=True)
    abl, mels = json.loads((files/'ablation.json').read_text()), row_mels(files/'runs.tar.gz')
    readers = {r.video.region: r
               for r in (CacheReader(p) for p in sorted(Path(a.caches).iterdir()) if p.is_dir())}
    reader = readers.get('mouth') or next(iter(readers.values()))
    val = {r['id']: r for r in reader.rows if r['split'] == 'val'}
    refs = work/'ref'
    texts = write_refs({i: reader.load(row) for i, row in val.items()}, reader.video, a.root, refs)
    judge, voc = load_judge(a.judge), load_vocoder(a.vocoder, AudioConfig())
    res = dict(what=f"GRID s1 quality ablation (issue 12): rows trained together on one machine ({abl['device']}) "
                    'with one budget, scored on the 50 validation clips; mels predicted there, vocoded and scored '
                    'here',
               train_command=abl['command'], device=abl['device'], settings=abl['settings'],
               vocoder=a.vocoder, judge=judge.name,
               command=' '.join(['python tools/score_ablation.py', *(argv or sys.argv[1:])]), rows={})
    for name, row in abl['rows'].items():
        r = res['rows'][name] = {k: row.get(k)
                                 for k in ('command', 'returncode', 'seconds', 'step', 'checkpoint', 'error')}
        r['val_loss'] = [{k: round(v, 4) for k, v in v.items() if k != 'split'} for v in row.get('val', [])]
        if name not in mels: continue
        r['scores'] = score_mels(mels[name], refs, work/name, texts, judge, voc)[0]
        if (files/f'{name}.int8.pt').exists():  # the int8 round trip, checked on the CPU
            state = torch.load(files/f'{name}.int8.pt', map_location='cpu', weights_only=False)
            rel = work/f'{name}.pt'; torch.save(dict(state, model=unpack_weights(state['model'])), rel)
            model = load_recipe(rel); own = readers[model.video.region]
            own_val = {r['id']: r for r in own.rows if r['split'] == 'val'}
            diffs = []
            for i in list(val)[:10]:
                mouth = (crop_frames(own.load(own_val[i])['mouth'], model.video.crop_size)
                         .astype(np.float32)/255)
                here = model.generate(torch.from_numpy(mouth)[None])[0].numpy()
                diffs.append(float(np.abs(here - mels[name][i]).mean()))
            r['int8_mel_abs_diff'] = round(float(np.mean(diffs)), 4)
    res['run_info'] = run_info()
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    for n, r in res['rows'].items():
        s = r.get('scores', {})
        print(n, r.get('step'),
              *(f"{k}={s[k]['mean']:.3f}" for k in ('stoi', 'estoi', 'pesq_wb', 'wer') if k in s),
              r.get('int8_mel_abs_diff'))
    return res

if __name__ == '__main__': main()
