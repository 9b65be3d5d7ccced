"""Cache format 2 against format 1 on a real corpus: size, coding error, frame exactness and reading speed.

Packs the format-1 cache V1 into V2 (timed; skipped if V2 exists), then compares every clip and times reading:
decoding alone in one process (CPU time, so other jobs on the machine do not inflate it) and through 2-worker
DataLoaders (wall clock, with the load average). The results are written as JSON.

    python tools/bench_cache.py /tmp/grid_bench /tmp/grid_bench_v2 --out data/results/cache_v2.json
"""
import argparse, io, json, os, resource, sys, time
from pathlib import Path
import numpy as np, torch

def cpu_children()->float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime

def folder_bytes(folder:Path)->int: return sum(p.stat().st_size for p in folder.rglob('*') if p.is_file())

def member_bytes(v2:Path, info:dict)->dict:
    "Bytes of each kind of member over all shards, and the tar headers and padding around them."
    from l2s_nb.cache import iter_shard
    sums = {}
    for s in info['shards']:
        with open(v2/s['name'], 'rb') as f:
            for _, members in iter_shard(f):
                sums.update({m: sums.get(m, 0) + len(b) for m, b in members.items()})
    return dict(sums, tar_headers_and_padding=info['bytes'] - sum(sums.values()))

def compare(v1:Path, v2:Path)->dict:
    ("Coding error of every clip (format 2 against format 1) and decoding speed of each format "
     "in this process.")
    from l2s_nb.cache import CacheReader
    r1, r2 = CacheReader(v1), CacheReader(v2)
    by_id = {(r['speaker'], r['id']): r for r in r1.rows}
    mae, worst, mel_err, frames, t1, t2 = [], 0, 0., 0, 0., 0.
    for row in r2.rows:
        t = time.process_time(); a = r1.load(by_id[row['speaker'], row['id']]); t1 += time.process_time()-t
        t = time.process_time(); b = r2.load(row); t2 += time.process_time()-t
        assert b['mouth'].shape == a['mouth'].shape and b['mel'].shape == a['mel'].shape, row['id']
        d = np.abs(b['mouth'].astype(np.int16) - a['mouth'])
        mae.append(float(d.mean())); worst = max(worst, int(d.max())); frames += len(a['mouth'])
        mel_err = max(mel_err, float(np.abs(b['mel'] - a['mel'].astype(np.float32)).max()))
    n = len(r2.rows)
    return dict(clips=n, frames=frames, frame_counts_equal=True,
                crop_mean_abs_error=round(float(np.mean(mae)), 3),
                crop_mean_abs_error_worst_clip=round(max(mae), 3),
                crop_max_abs_error_any_pixel=worst, mel_max_abs_error=round(mel_err, 4),
                decode_one_process=dict(format1_clips_per_cpu_second=round(n/t1, 1),
                                        format2_clips_per_cpu_second=round(n/t2, 1),
                                        format2_ms_per_clip=round(1000*t2/n, 2)))

def _read_share(job:tuple)->tuple:
    "Load every `k`-th clip of a cache from `i` (in a worker process); its count and CPU seconds."
    from l2s_nb.cache import CacheReader
    folder, i, k = job; r = CacheReader(folder); t = time.process_time()
    for row in r.rows[i::k]: r.load(row)
    return len(r.rows[i::k]), time.process_time()-t

def read_speed(cache:Path, processes:int, passes:int=3)->dict:
    ("Records decoded per second by `processes` processes sharing the clips (no augmentation, "
     "no batching), wall clock;\n    best and median of `passes` passes over the corpus "
     "(other jobs on the machine only ever slow a pass down).")
    import multiprocessing
    la, walls, cpus = os.getloadavg()[0], [], []
    with multiprocessing.get_context('spawn').Pool(processes) as pool:
        pool.map(_read_share, [(str(cache), 0, 10**9)]*processes)  # workers started and warmed
        for _ in range(passes):
            t = time.perf_counter(); done = pool.map(_read_share,
                                                     [(str(cache), i, processes) for i in range(processes)])
            walls.append(time.perf_counter()-t); cpus.append(sum(d[1] for d in done))
    n = sum(d[0] for d in done)
    return dict(processes=processes, clips=n, passes=passes, clips_per_second_best=round(n/min(walls), 1),
                clips_per_second_median=round(n/float(np.median(walls)), 1),
                clips_per_cpu_second_best=round(n/min(cpus), 1),
                load_average_before=round(la, 2))

def loader_speed(cache:Path, workers:int, stream:bool, epochs:int=2)->dict:
    ("Clips per second through `make_loader` (train split, batches of 16, augmentation on), "
     "wall clock, and the workers' CPU.")
    from l2s_nb.datasets import make_loader, set_epoch
    la, c0, t0, n = os.getloadavg()[0], cpu_children(), time.perf_counter(), 0
    dl = make_loader(cache, 'train', batch_size=16, workers=workers, stream=stream, pin_memory=False)
    for e in range(epochs):
        set_epoch(dl, e); n += sum(len(b['id']) for b in dl)
    wall = time.perf_counter()-t0; del dl  # the persistent workers exit here
    cpu = cpu_children()-c0
    return dict(workers=workers, clips=n, seconds=round(wall, 2), clips_per_second=round(n/wall, 1),
                clips_per_cpu_second_of_workers=round(n/cpu, 1) if cpu else None,
                load_average_before=round(la, 2))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('v1', help='format-1 cache (written by l2s prep)')
    ap.add_argument('v2', help='format-2 cache (packed from v1 here if it does not exist)')
    ap.add_argument('--out', default='data/results/cache_v2.json', help='JSON file for the results')
    ap.add_argument('--workers', type=int, default=2, help='processes for packing and loader workers')
    a = ap.parse_args(); v1, v2 = Path(a.v1), Path(a.v2)
    torch.set_num_threads(1)
    from l2s_nb.cache import pack
    from l2s_nb.config import run_info
    res = dict(command='python ' + ' '.join(sys.argv), cpu_cores=os.cpu_count())
    if not v2.exists():
        la, c0, t0 = os.getloadavg()[0], cpu_children(), time.perf_counter()
        pack(v1, v2, workers=a.workers)
        res['pack'] = dict(workers=a.workers, seconds=round(time.perf_counter()-t0, 1),
                           cpu_seconds=round(cpu_children()-c0, 1), load_average_before=round(la, 2))
    info = json.loads((v2/'cache.json').read_text())
    b1, b2 = folder_bytes(v1), folder_bytes(v2)
    res['size'] = dict(format1_bytes=b1, format2_bytes=b2, format2_mb=round(b2/1e6, 2),
                       format2_mib=round(b2/2**20, 2), format2_kib_per_clip=round(b2/info['clips']/1024, 2),
                       ratio=round(b1/b2, 1), shards=len(info['shards']), members=member_bytes(v2, info))
    res['accuracy'] = compare(v1, v2)
    res['read'] = {name: read_speed(c, a.workers) for name, c in (('format1', v1), ('format2', v2))}
    res['loaders'] = {name: loader_speed(c, a.workers, stream) for name, c, stream in
                      (('format1_random_access', v1, False), ('format2_random_access', v2, False),
                       ('format2_stream', v2, True))}
    res['run_info'] = run_info()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    print(json.dumps(res, indent=1))
