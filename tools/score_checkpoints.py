"""Score lip-to-speech checkpoints side by side on the validation clips of a prep cache, the way
`tools/score_ablation.py` scores a GPU ablation's rows: each model speaks the clips' centre-cropped regions, the
vocoder makes the audio, and STOI, ESTOI, PESQ, MCD and judge WER/CER are measured against the corpus recordings.

    python tools/score_checkpoints.py data/checkpoints/multitask_base_grid_s1.pt runs/ft_gan.pt \\
        --caches gpu/caches --root ../shared/grid --out data/results/finetune_grid_s1.json

With `--paired`, every checkpoint after the first is also compared with the first clip by clip: the mean
difference of each metric, its bootstrap 95% interval and how many clips it improves (WER from word errors).
"""
import argparse, json, sys
from pathlib import Path
import numpy as np, torch

sys.path.insert(0, str(Path(__file__).parent))
from score_ablation import paired, score_mels, write_refs  # noqa: E402

GIVEN = ('truth', 'other', 'none')  # the --texts that need no lip reader's output

def given_texts(how:str, texts:dict)->dict:
    "What each clip is given to say: its transcript ('truth'), the next clip's ('other') or nothing ('none')."
    ids = list(texts)
    if how == 'truth': return texts
    if how == 'none': return {i: '' for i in ids}
    return {i: texts[ids[(k+1) % len(ids)]] for k,i in enumerate(ids)}

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoints', nargs='+', help='release or training checkpoints of lip-to-speech recipes')
    ap.add_argument('--caches', required=True,
                    help='folder of prep caches, one per region (the checkpoints pick theirs)')
    ap.add_argument('--root', required=True, help='the corpus root (its recordings are the references)')
    ap.add_argument('--out', required=True); ap.add_argument('--work', default='runs/score_checkpoints')
    ap.add_argument('--vocoder', default='griffin_lim')
    ap.add_argument('--judge', default='data/checkpoints/judge_grid_s1.pt')
    ap.add_argument('--texts', default='truth',
                    help="what models that need text are given: 'truth' (each clip's transcript), 'other' "
                    "(the next clip's: does the speech follow the text or the lips?), 'none' (empty), or an "
                    "`l2s score-lipread` output (what a lip reader read), with --decode")
    ap.add_argument('--decode', default='grammar', help='which of the --texts file decodings to use')
    ap.add_argument('--paired', action='store_true',
                    help='per-clip differences of every checkpoint against the first one (mean, bootstrap '
                    '95%% interval, clips better), under `paired`')
    a = ap.parse_args(argv)
    if a.paired and len(a.checkpoints) < 2: ap.error('--paired compares checkpoints: give at least two')
    from l2s_nb.cache import CacheReader
    from l2s_nb.config import AudioConfig, run_info
    from l2s_nb.datasets import crop_frames
    from l2s_nb.judge import load_judge
    from l2s_nb.recipes import load_recipe
    from l2s_nb.vocoder import load_vocoder
    torch.set_num_threads(1)
    readers = {r.video.region: r
               for r in (CacheReader(p) for p in sorted(Path(a.caches).iterdir()) if p.is_dir())}
    work, judge, voc = Path(a.work), load_judge(a.judge), load_vocoder(a.vocoder, AudioConfig())
    read = ({c['id']: c[a.decode] for c in json.loads(Path(a.texts).read_text())['clips']}
            if a.texts not in GIVEN else None)
    res = dict(command=' '.join(['python tools/score_checkpoints.py',
                                 *(argv if argv is not None else sys.argv[1:])]),
               vocoder=a.vocoder, judge=judge.name, texts=a.texts, rows={})
    clips = {}  # checkpoint -> per-clip scores
    for ck in a.checkpoints:
        model = load_recipe(ck); r = readers[model.video.region]
        val = [row for row in r.rows if row['split'] == 'val']
        refs, mels = work/f'ref_{model.video.region}', {}
        recs = {row['id']: r.load(row) for row in val}
        texts = write_refs(recs, r.video, a.root, refs)
        given = read if read is not None else given_texts(a.texts, texts)
        for row in val:
            rec = recs[row['id']]
            mouth = crop_frames(rec['mouth'], model.video.crop_size).astype(np.float32)/255
            if model.needs_text and read is not None and row['id'] not in read:
                raise SystemExit(f"{a.texts}: no {a.decode!r} reading of clip {row['id']}; give an "
                                 f"`l2s score-lipread` output of the same cache's {row['split']} clips")
            text = dict(text=[given[row['id']]]) if model.needs_text else {}
            mels[row['id']] = model.generate(torch.from_numpy(mouth)[None], **text)[0].numpy()
        scores, clips[ck] = score_mels(mels, refs, work/Path(ck).stem, texts, judge, voc)
        res['rows'][ck] = dict(step=model.step, metrics=model.metrics, scores=scores)
        s = res['rows'][ck]['scores']
        print(ck, *(f"{k}={s[k]['mean']:.3f}" for k in ('stoi', 'estoi', 'pesq_wb', 'wer')))
    if a.paired:
        first, *rest = a.checkpoints
        res['paired'] = {f'{ck} - {first}': paired(clips[ck], clips[first]) for ck in rest}
    res['run_info'] = run_info()
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res

if __name__ == '__main__': main()
