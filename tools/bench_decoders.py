"""Compare decord and PyAV (l2s_nb's decoder) on every case of `l2s_nb.video.CODEC_CASES` and on GRID's original .mpg files.

Writes data/results/video_decoders.json; nbs/02_video.ipynb shows the table. Run: python tools/bench_decoders.py
(needs decord, a dev dependency; the GRID rows need ../shared/grid/s1_mpg)."""
import json, os, subprocess, sys, tempfile, time
from pathlib import Path
import cv2, numpy as np  # cv2 before decord: decord's old zlib breaks cv2's PNG reader
import decord, imageio_ffmpeg
from l2s_nb.config import atomic_write, run_info, shared_data
from l2s_nb.video import CODEC_CASES, write_case, decode_frames, read_counter

ROOT = Path(__file__).resolve().parents[1]

def decord_frames(path):
    "All frames decord returns, in its order, as gray (how l2s_nb read video before)."
    vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
                     for f in vr.get_batch(list(range(len(vr)))).asnumpy()])

def ffmpeg_frames(path, h, w):
    "All frames the ffmpeg command line decodes (autorotation off), as gray via RGB."
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-v', 'error', '-noautorotate', '-i', str(path),
                          '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
                         capture_output=True, check=True).stdout
    rgb = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])

def timed(fn, *args, repeats=3):
    "Result of `fn(*args)` and its best wall time over `repeats` calls."
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter(); out = fn(*args); best = min(best, time.perf_counter()-t)
    return out, best

def exact(got:np.ndarray, n:int)->str:
    "How the frame numbers a decoder returned compare with the source's frames 0..n-1."
    lag = got[:n//2] - np.arange(min(len(got), n//2))
    if len(got) == n and (got == np.arange(n)).all(): return 'exact'
    if len(lag) and (lag == lag[0]).all() and lag[0]:
        return f'{len(got)} frames, frame k+{lag[0]} returned as frame k'
    return f'{len(got)} frames, wrong frames'

def bench(n=75, size=(288, 360)):
    "One row per codec case: each decoder's exactness and milliseconds per frame."
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for k, case in enumerate(CODEC_CASES):
            p = write_case(case, Path(d)/f'case{k}', n, size)
            rot = (CODEC_CASES[case][3:] or [0])[0]
            row = dict(case=case)
            for name, fn in (('pyav', lambda q: decode_frames(q)[1]), ('decord', decord_frames)):
                try:
                    frames, sec = timed(fn, p)
                    # read back upright; undo to read the counter
                    if name == 'pyav': frames = np.rot90(frames, -rot//90, axes=(1, 2))
                    row[name] = dict(result=exact(read_counter(frames), n)
                                     + (' (turned upright)' if rot and name == 'pyav' else ''),
                                     ms_per_frame=round(1000*sec/len(frames), 3))
                except Exception as e:
                    row[name] = dict(result=f'fails: {type(e).__name__}', ms_per_frame=None)
            rows.append(row); print(row, file=sys.stderr)
    return rows

def grid_originals():
    "Per GRID original .mpg: decord's and PyAV's frame lag against the ffmpeg command line."
    mpg = shared_data('grid')
    if mpg is None: return None
    out = []
    for p in sorted((mpg/'s1_mpg').glob('*.mpg')):
        ref = ffmpeg_frames(p, 288, 360)
        res = dict(id=p.stem, frames=len(ref))
        for name, frames in (('pyav', decode_frames(p)[1]), ('decord', decord_frames(p))):
            lags = [min(range(15), key=lambda s: np.abs(ref[min(k+s, len(ref)-1)].astype(int) - f).mean())
                    for k, f in enumerate(frames[:20])]
            res[name] = dict(equal_to_ffmpeg=bool(len(frames) == len(ref) and (frames == ref).all()),
                             lag_frames=int(np.median(lags)))
        out.append(res); print(res, file=sys.stderr)
    return out

if __name__ == '__main__':
    report = dict(command='python tools/bench_decoders.py',
                  clip='counter frames 360x288, 75 frames (l2s_nb.video.write_case)',
                  timing='best of 3 wall-clock runs, one thread, whole clip decoded', cases=bench(),
                  grid_s1_mpg=grid_originals(), load_average=os.getloadavg()[0], run_info=run_info())
    atomic_write(ROOT/'data'/'results'/'video_decoders.json',
                 lambda q: q.write_text(json.dumps(report, indent=1)))
