"""Where `l2s prep` and `l2s synthgrid` spend their time, and how fast they run.

For each tool: a CPU profile by stage (one process, cProfile timed with CPU time, so other jobs on the machine do
not inflate it) and a wall-clock run with `--workers` processes. The results are merged into a JSON file under
`--label` (e.g. `before` and `after` a change), with the command, the load average and the git SHA.

    python tools/bench_prep.py --label after --out data/results/prep_speed.json

The wall-clock figures depend on what else runs on the machine; on an idle one, for the issue-14 targets
(`prep` >= 500 frames/s, `synthgrid` >= 20 clips/s on 2 cores), run

    OMP_NUM_THREADS=1 python tools/bench_prep.py --label idle --grid_run 950 --synthgrid_run 400

To compare two versions of the code under the same load, profile them in turn, without the wall-clock runs (e.g.
main checked out in ../main; the `l2s_nb` on PYTHONPATH is the one measured):

    PYTHONPATH=../main python tools/bench_prep.py --label main --grid_run 0 --synthgrid_run 0 --grid 30 --synthgrid 30
    PYTHONPATH=. python tools/bench_prep.py --label branch --grid_run 0 --synthgrid_run 0 --grid 30 --synthgrid 30
"""
import argparse, json, os, pstats, resource, shutil, sys, tempfile, time
from contextlib import contextmanager
from pathlib import Path
import cv2, torch

# stage: the functions (module, attribute) whose CPU time is the stage's; they never call each other
PREP_STAGES = dict(decode=[('video', 'decode_frames'), ('video', 'probe')],
                   detect=[('face', 'DlibTracker.detect')], landmarks=[('face', 'DlibTracker.landmarks')],
                   align_warp=[('face', 'roi_transforms'), ('face', 'warp_rois')],
                   audio_mel=[('prep', 'load_audio'), ('prep', 'log_mel')], av_sync=[('prep', 'av_offset')],
                   jitter=[('prep', 'crop_jitter')], write=[('prep', 'save_record')])
SYNTH_STAGES = dict(speech=[('synthgrid', '_speak_fitting')], render=[('synthgrid', 'render_face')],
                    encode_video=[('synthgrid', 'write_video'), ('synthgrid', 'encode_video')],
                    write_other=[('synthgrid', 'save_audio'), ('synthgrid', '_save_npy')])

def cpu_children()->float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime

@contextmanager
def stage_timers(stages:dict):
    "Wrap the stage functions so that each adds its CPU time to `spent[stage]` (a few microseconds per call)."
    import importlib
    spent, undo = {k: 0. for k in stages}, []
    def timed(f, k):
        def g(*a, **kw):
            t = time.process_time()
            try: return f(*a, **kw)
            finally: spent[k] += time.process_time()-t
        return g
    for k, pairs in stages.items():
        for mod, attr in pairs:
            owner = importlib.import_module(f'l2s_nb.{mod}'); *cls, name = attr.split('.')
            if cls: owner = getattr(owner, cls[0])
            if not hasattr(owner, name): continue  # a stage function this version of the code does not have
            undo.append((owner, name, getattr(owner, name)))
            setattr(owner, name, timed(getattr(owner, name), k))
    try: yield spent
    finally:
        for owner, name, f in reversed(undo): setattr(owner, name, f)

def profile(fn, stages:dict, n_units:int)->dict:
    ("Run `fn()` with stage timers; CPU ms per unit of each stage, of the rest, of child processes (ffmpeg) "
     "and in all.")
    c0, t0 = cpu_children(), time.process_time()
    with stage_timers(stages) as spent: fn()
    total, children = time.process_time()-t0, cpu_children()-c0
    ms = {f'{k}_ms': round(1000*v/n_units, 3) for k, v in spent.items()}
    return dict(**ms, other_ms=round(1000*total/n_units - sum(ms.values()), 3),
                child_process_ms=round(1000*children/n_units, 3),
                cpu_ms=round(1000*(total+children)/n_units, 3))

def grid_subset(n:int, root:Path)->tuple:
    ("A manifest corpus in `root` of `n` GRID s1 clips spread evenly over the 950 "
     "(symlinks to the shared files).")
    from l2s_nb.config import shared_data
    from l2s_nb.corpora import read_corpus, save_manifest
    grid = shared_data('grid')
    if grid is None: sys.exit('bench_prep: ../shared/grid is absent')
    clips = read_corpus('grid', grid); clips = clips[::max(1, len(clips)//n)][:n]
    for c in clips:
        for rel in (c.video, c.audio):
            (root/rel).parent.mkdir(parents=True, exist_ok=True); (root/rel).symlink_to(grid/rel)
    save_manifest(clips, root/'manifest.tsv')
    return grid, clips

def bench_prep(n:int, n_run:int, workers:int, tmp:Path)->dict:
    from l2s_nb import prep as prep_module
    from l2s_nb.prep import prep_clip, prep
    from l2s_nb.config import AudioConfig, VideoConfig
    grid, clips = grid_subset(max(n, n_run), tmp/'grid')  # the wall-clock run takes all of them
    clips = clips[::max(1, len(clips)//n)][:n]
    prep_clip(clips[0], grid)  # load the tracker and warm the caches
    prep_module._init_worker(grid, AudioConfig(), VideoConfig(), 12, 0.2)
    done = []
    def run(): done.extend(prep_module._run_one((c, tmp/'one_prep'/c.speaker/f'{c.id}.npz')) for c in clips)
    per_frame = profile(run, PREP_STAGES, 1)
    n = sum(r.get('n_frames', 0) for r in done)
    per_frame = {k: round(v/n, 3) for k, v in per_frame.items()}
    res = dict(clips=len(clips), frames=n, profile_ms_per_frame=per_frame,
               frames_per_cpu_second=round(1000/per_frame['cpu_ms'], 1),
               load_average=round(os.getloadavg()[0], 2))
    if not n_run: return res
    la = os.getloadavg()[0]
    s = prep('manifest', tmp/'grid', tmp/'cache', workers=workers)
    return dict(res, run=dict(clips=s['done'], frames=s['frames'], workers=workers, seconds=s['seconds'],
                         frames_per_second=s['frames_per_second'],
                         frames_per_cpu_second_of_workers=s['frames_per_cpu_second'],
                         load_average_before=round(la, 2), load_average_after=round(os.getloadavg()[0], 2)))

def bench_synthgrid(n:int, n_run:int, workers:int, tmp:Path)->dict:
    from l2s_nb.synthgrid import synthgrid
    synthgrid(tmp/'warm', clips=1, speakers=1, workers=1, progress=False)
    prof = profile(lambda: synthgrid(tmp/'one', clips=n, speakers=4, workers=1, progress=False),
                   SYNTH_STAGES, n)
    res = dict(clips=n, profile_ms_per_clip=prof, clips_per_cpu_second=round(1000/prof['cpu_ms'], 2),
               load_average=round(os.getloadavg()[0], 2))
    if not n_run: return res
    la, c0, t0 = os.getloadavg()[0], cpu_children(), time.perf_counter()
    s = synthgrid(tmp/'run', clips=n_run, speakers=4, workers=workers, progress=False)
    wall, cpu = time.perf_counter()-t0, cpu_children()-c0
    return dict(res, run=dict(clips=n_run, workers=workers, seconds=round(wall, 2),
                         clips_per_second=round(n_run/wall, 2),
                         clips_per_cpu_second_of_workers=round(n_run/cpu, 2),
                         bytes_per_clip=s['bytes_per_clip'],
                         load_average_before=round(la, 2), load_average_after=round(os.getloadavg()[0], 2)))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--label', required=True, help='key the results are stored under (e.g. before, after)')
    ap.add_argument('--out', default='data/results/prep_speed.json',
                    help='JSON file the results are merged into')
    ap.add_argument('--grid', type=int, default=50,
                    help='GRID s1 clips (spread evenly: 50 = every 19th) to profile; 0 skips prep')
    ap.add_argument('--grid_run', type=int, default=150,
                    help='GRID s1 clips of the wall-clock prep run (with worker start-up); 0 skips it')
    ap.add_argument('--synthgrid', type=int, default=50, help='SynthGRID clips to profile; 0 skips synthgrid')
    ap.add_argument('--synthgrid_run', type=int, default=200,
                    help='SynthGRID clips of the wall-clock run (with worker start-up); 0 skips it')
    ap.add_argument('--workers', type=int, default=2, help='worker processes of the wall-clock runs')
    a = ap.parse_args()
    torch.set_num_threads(1); cv2.setNumThreads(1)
    from l2s_nb.config import run_info
    tmp = Path(tempfile.mkdtemp(prefix='bench_prep_'))
    try:
        cmd, res = 'python ' + ' '.join(sys.argv), {}
        if a.grid:
            res['prep_grid_s1'] = dict(command=cmd, **bench_prep(a.grid, a.grid_run, a.workers, tmp),
                                       run_info=run_info())
        if a.synthgrid:
            res['synthgrid'] = dict(command=cmd,
                                    **bench_synthgrid(a.synthgrid, a.synthgrid_run, a.workers, tmp),
                                    run_info=run_info())
    finally: shutil.rmtree(tmp, ignore_errors=True)
    out = Path(a.out); old = json.loads(out.read_text()) if out.exists() else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**old, a.label: {**old.get(a.label, {}), 'cpu_cores': os.cpu_count(), **res}},
                              indent=1) + '\n')
    print(json.dumps(res, indent=1))
