"""Over- or under-fitting, measured: a checkpoint's mel L1 on training clips against validation clips of a cache.

A model that memorises its training clips scores far better on them than on held-out ones; one whose training clips
score about as badly as held-out ones is limited by its input, objective or capacity, not by the amount of data it
has seen. The clips are spoken whole, centre-cropped, without augmentation.

    python tools/fit_gap.py data/checkpoints/multitask_base_grid_s1.pt gpu/caches/grid_s1_mouth --n 50
"""
import argparse, json, sys
import numpy as np, torch

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoint'); ap.add_argument('cache')
    ap.add_argument('--n', type=int, default=50, help='clips of each split (the first in manifest order)')
    ap.add_argument('--out', help='also write the result as JSON here')
    a = ap.parse_args(argv)
    from l2s_nb.cache import CacheReader
    from l2s_nb.config import run_info
    from l2s_nb.datasets import crop_frames
    from l2s_nb.recipes import load_recipe
    torch.set_num_threads(1)
    model = load_recipe(a.checkpoint); r = CacheReader(a.cache, video=model.video)
    res = dict(command=' '.join(['python tools/fit_gap.py', *(argv if argv is not None else sys.argv[1:])]),
               checkpoint=a.checkpoint, step=model.step)
    for split in ('train', 'val'):
        l1 = []
        for row in [x for x in r.rows if x['split'] == split][:a.n]:
            rec = r.load(row)
            mouth = crop_frames(rec['mouth'], model.video.crop_size).astype(np.float32)/255
            mel = model.generate(torch.from_numpy(mouth)[None])[0].numpy()
            l1.append(float(np.abs(mel - rec['mel'].astype(np.float32)).mean()))
        res[split] = dict(n=len(l1), mel_l1=round(float(np.mean(l1)), 4), sd=round(float(np.std(l1)), 4))
    res['gap'] = round(res['val']['mel_l1'] - res['train']['mel_l1'], 4)
    res['run_info'] = run_info()
    if a.out: open(a.out, 'w').write(json.dumps(res, indent=1) + '\n')
    print(json.dumps({k: res[k] for k in ('train', 'val', 'gap')}))
    return res

if __name__ == '__main__': main()
