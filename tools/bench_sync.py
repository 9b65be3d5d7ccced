"""Measure `l2s_nb.sync.av_offset` on clips whose sound is shifted by known amounts: GRID s1 (real video, tracked
landmarks; with and without restricting to the spoken span of the word alignments), English and multilingual
SynthGRID (rendered faces, exact landmarks), each also with the other choice of cues (`both_cues`,
`lip_opening_only`); and on GRID's original .mpg files as decoded by PyAV and by decord.
Writes data/results/av_sync.json; nbs/06_sync.ipynb shows the table.
Run: python tools/bench_sync.py [--grid_clips 100] [--synthgrid_clips 24]   (the GRID rows need ../shared/grid)"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path
import cv2, numpy as np, torch
from tqdm import tqdm
from l2s_nb.config import atomic_write, run_info, shared_data
from l2s_nb.audio import load_audio, log_mel
from l2s_nb.video import read_video
from l2s_nb.face import mouth_rois
from l2s_nb.corpora import read_corpus, align_words
from l2s_nb.prep import load_landmarks
from l2s_nb.synthgrid import synthgrid
from l2s_nb.sync import av_offset

ROOT, SHIFTS = Path(__file__).resolve().parents[1], (0, 3, -3, 8, -8, 12)

def shift_mel(mel, frames:int, mpf:int=4):
    "The log-mel with its sound `frames` video frames later (positive) or earlier, edges repeated."
    k = mpf*abs(frames)
    if frames > 0: return np.pad(mel, ((0, 0), (k, 0)), mode='edge')[:, :mel.shape[1]]
    if frames < 0: return np.pad(mel, ((0, 0), (0, k)), mode='edge')[:, k:]
    return mel

def clip_inputs(root, clip):
    ("(rois, mel, landmarks, speech span, whether the landmarks are the corpus's exact ones) "
     "of one corpus clip.")
    frames = read_video(root/clip.video)
    lm = load_landmarks(root/clip.landmarks, len(frames)) if clip.landmarks else None
    rois, stats = mouth_rois(frames, landmarks=lm)
    align = next((root/clip.speaker).glob(f'align/{clip.id}.align'), None)
    words = align_words(align) if align else None
    span = (int(words[0][0]//1000), int(words[-1][1]//1000)) if words else None
    return rois, log_mel(load_audio(root/clip.audio)), stats['landmarks'], span, lm is not None

def rates(inputs, use_span:bool, exact:bool|None=None):
    ("Per shift: share of clips within ±1 frame, and share flagged (|offset| > 2); `exact` forces the cues "
     "(True: lip opening alone, False: both) where None takes each clip's own, as `prep` does.")
    out = {}
    for s in SHIFTS:
        found = np.array([av_offset(r, shift_mel(m, s), lm, span=sp if use_span else None,
                                    exact_landmarks=own if exact is None else exact)['offset']
                          for r, m, lm, sp, own in inputs])
        out[f'{s:+d}'] = dict(within_1=round(float(np.mean(np.abs(found - s) <= 1)), 3),
                              flagged=round(float(np.mean(np.abs(found) > 2)), 3))
    return out

def grid_originals(grid):
    "Offsets of GRID's original .mpg files, decoded by read_video (PyAV) and by decord (frame k+12 as k)."
    import decord
    rows = []
    for p in tqdm(sorted((grid/'s1_mpg').glob('*.mpg')), desc='s1_mpg'):
        mel = log_mel(load_audio(p))
        vr = decord.VideoReader(str(p), num_threads=1)
        dec = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
                        for f in vr.get_batch(list(range(len(vr)))).asnumpy()])
        row = dict(id=p.stem)
        for name, frames in (('pyav', read_video(p)), ('decord', dec)):
            try:
                rois, st = mouth_rois(frames, path=p)
                row[name] = av_offset(rois, mel, st['landmarks'])
            except Exception as e: row[name] = dict(error=f'{type(e).__name__}: {e}')
        rows.append(row); print(row, file=sys.stderr)
    return rows

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--grid_clips', type=int, default=100)
    ap.add_argument('--synthgrid_clips', type=int, default=24)
    a = ap.parse_args(); torch.set_num_threads(1); t0 = time.time(); report = dict(shifts_frames=list(SHIFTS))
    for key, langs in (('synthgrid', ['en']), ('synthgrid_multilingual', ['es', 'ru', 'cmn'])):
        with tempfile.TemporaryDirectory() as d:
            synthgrid(Path(d)/'sg', clips=a.synthgrid_clips, speakers=2*len(langs), languages=langs,
                      workers=1, progress=False)
            sg = [clip_inputs(Path(d)/'sg', c)
                  for c in tqdm(read_corpus('synthgrid', Path(d)/'sg'), desc=key)]
        report[key] = dict(clips=len(sg), languages=langs, **rates(sg, use_span=False),
                           both_cues=rates(sg, use_span=False, exact=False))
    grid = shared_data('grid')
    if grid:
        clips = read_corpus('grid', grid)
        step = max(1, len(clips)//a.grid_clips); inputs = []
        for c in tqdm(clips[::step][:a.grid_clips], desc='grid'):
            try: inputs.append(clip_inputs(grid, c))
            except Exception as e: print(f'skipped {c.id}: {e}', file=sys.stderr)
        report['grid_s1'] = dict(clips=len(inputs), every_nth=step, with_align=rates(inputs, True),
                                 without_align=rates(inputs, False),
                                 lip_opening_only=rates(inputs, False, exact=True))
        report['grid_s1_mpg'] = grid_originals(grid)
    report.update(command='python tools/bench_sync.py ' + ' '.join(sys.argv[1:]),
                  minutes=round((time.time()-t0)/60, 1), load_average=os.getloadavg()[0], run_info=run_info())
    atomic_write(ROOT/'data'/'results'/'av_sync.json', lambda q: q.write_text(json.dumps(report, indent=1)))
