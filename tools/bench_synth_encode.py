"""SynthGRID's x264 options against plain `veryfast`: CPU time of `write_video`, mp4 size, and how far the decoded
frames are from the rendered ones (mean absolute error, RGB and gray — `prep` crops gray frames).

    python tools/bench_synth_encode.py --out data/results/prep_speed.json
"""
import argparse, json, time, tempfile
from pathlib import Path
import cv2, numpy as np

def measure(clips:list, x264_params:str, tmp:Path)->dict:
    from l2s_nb.video import write_video, decode_frames
    gray = lambda a: np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in a]).astype(np.float64)
    t, size, mae, gmae = 0., [], [], []
    for j, c in enumerate(clips):
        t0 = time.process_time()
        p = write_video(tmp/f'{j}.mp4', c.frames, 25, threads=1, preset='veryfast', x264_params=x264_params)
        t += time.process_time() - t0
        dec = decode_frames(p, gray=False)[1]
        size.append(p.stat().st_size); mae.append(np.abs(dec.astype(np.float64) - c.frames).mean())
        gmae.append(np.abs(gray(dec) - gray(c.frames)).mean())
    return dict(x264='preset veryfast, crf 18' + (f', {x264_params}' if x264_params else ''),
                encode_cpu_ms_per_clip=round(1000*t/len(clips), 1), mp4_bytes_per_clip=int(np.mean(size)),
                rgb_mae=round(float(np.mean(mae)), 3), gray_mae=round(float(np.mean(gmae)), 3))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--clips', type=int, default=40, help='clips to render (speakers 1-8 in turn)')
    ap.add_argument('--out', default='data/results/prep_speed.json',
                    help="JSON file whose 'synthgrid_encode' key gets the results")
    a = ap.parse_args()
    import torch; torch.set_num_threads(1); cv2.setNumThreads(1)
    from l2s_nb.config import run_info
    from l2s_nb.synthgrid import SYNTH_X264, make_clip, make_speaker
    rng = np.random.default_rng(0)
    clips = [make_clip(int(rng.integers(64000)), make_speaker(1 + k % 8), np.random.default_rng(k))
             for k in range(a.clips)]
    with tempfile.TemporaryDirectory() as d:
        res = dict(command=f'python tools/bench_synth_encode.py --clips {a.clips}', clips=a.clips,
                   before=measure(clips, '', Path(d)), after=measure(clips, SYNTH_X264, Path(d)),
                   run_info=run_info())
    out = Path(a.out); old = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**old, 'synthgrid_encode': res}, indent=1) + '\n')
    print(json.dumps(res, indent=1))
