"""The GRID quality ablation on one GPU machine, in one command (issue 12): every row of `ROWS` is one `l2s train`
run; all rows train at once on the one GPU until a deadline. Then each run's best (else last) checkpoint speaks the
50 validation clips of its cache, and what comes back is small: the predicted mels of every row (scored on any
machine with `tools/score_ablation.py`), each run's log, and each run's weights in a compact int8 transfer form
(`unpack_weights` turns them back into an fp16 release checkpoint).

Only ~64 MiB travel to a GPU machine, so the corpus goes as format-2 caches (`l2s pack`); they are unpacked to
format 1 there first. PyAV (35 MB as a wheel) stays behind: OpenCV, which the machine has, decodes the mouth streams
to the same bytes (the stream's one plane, read raw).

    python tools/gpu_ablation.py gpu/caches $OUT --minutes 6.5 --steps 1500 --workers 2   # the GPU machine
    python tools/gpu_ablation.py gpu/caches /tmp/abl --dry_run                      # anywhere: tiny presets, CPU
"""
import argparse, io, json, multiprocessing, os, subprocess, sys, tarfile, tempfile, time
from pathlib import Path
import numpy as np, torch

# the content judge of the content-loss rows, carried beside the caches: a copy of the strong content judge of
# data/results/finetune_content_grid_s1.json (3.3 MB; its `content_judge` command remakes it)
CONTENT_JUDGE = 'gpu/content_judge_grid_s1.pt'
# name: (cache region, recipe, extra `l2s train` arguments); the base preset, batch 32, one shared budget
ROWS = {
    'multitask': ('mouth', 'multitask', []),
    'multitask_gan': ('mouth', 'multitask', ['--set', 'w_adv=0.03']),
    'multitask_lower_face': ('lower_face', 'multitask', []),
    'multitask_no_time_mask': ('mouth', 'multitask', ['--data_set', 'time_mask=0']),
    'multitask_half_data': ('mouth', 'multitask', ['--data_set', 'clips=450']),
    'vca_gan': ('mouth', 'vca_gan', []),
    # given each clip's transcript when it speaks: what the words add when the text is right
    'visual_tts_guided': ('mouth', 'visual_tts', []),
    # the diffusion decoder, guided by its own ASR towards each clip's transcript
    'lipvoicer': ('mouth', 'lipvoicer', []),
    # the words (a content judge's CTC on the generated mel) with and without the detail (mel discriminators)
    'multitask_content_ctc': ('mouth', 'multitask',
                              ['--set', 'w_content_ctc=0.5', f'content_judge={CONTENT_JUDGE}']),
    'multitask_gan_content_ctc': ('mouth', 'multitask',
                                  ['--set', 'w_adv=0.03', 'w_content_ctc=0.5', f'content_judge={CONTENT_JUDGE}']),
}

def decode_mouth_cv2(data:bytes, n_frames:int|None=None, where:str='<mouth>')->np.ndarray:
    "`l2s_nb.cache.decode_mouth` through OpenCV's FFmpeg: the H.264 stream's one plane, unconverted."
    import cv2
    with tempfile.NamedTemporaryFile(suffix='.h264',
                                     dir='/dev/shm' if os.path.isdir('/dev/shm') else None) as f:
        f.write(data); f.flush()
        cap = cv2.VideoCapture(f.name, cv2.CAP_FFMPEG); cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
        frames = []
        while (got := cap.read())[0]: frames.append(got[1].reshape(got[1].shape[0], -1))
    if not frames or (n_frames is not None and len(frames) != n_frames):
        raise ValueError(f"{where}: mouth stream decodes to {len(frames)} frames, the record says {n_frames}")
    return np.stack(frames)

def unpack_caches(caches:Path, work:Path)->dict:
    ("Format-1 copies of the format-2 caches under `caches` (one folder per region), in `work`; "
     "region -> folder.")
    import l2s_nb.cache as cache
    try: import av  # noqa: F401
    except ImportError: os.environ['OPENCV_LOG_LEVEL'] = 'ERROR'; cache.decode_mouth = decode_mouth_cv2
    jobs = {cache.cache_configs(v2)[1].region: (v2, work/f'v1_{cache.cache_configs(v2)[1].region}')
            for v2 in sorted(p for p in caches.iterdir() if (p/'cache.json').exists())}
    todo = [job for job in jobs.values() if not (job[1]/'prep_config.json').exists()]
    with multiprocessing.get_context('fork').Pool(max(1, len(todo))) as pool: pool.starmap(cache.unpack, todo)
    return {region: v1 for region, (_, v1) in jobs.items()}

def train_command(name:str, cache:Path, run:Path, a)->list:
    "The `l2s train` command of row `name`."
    region, recipe, extra = ROWS[name]
    return [sys.executable, '-c',
            'import sys; from l2s_nb.cli import main; sys.exit(main())', 'train', str(cache),
            '--run_dir', str(run/name), '--recipe', recipe, '--preset', a.preset, '--steps', str(a.steps),
            '--batch_size', str(a.batch_size), '--lr', str(a.lr), '--warmup_steps', str(a.warmup),
            '--val_every', str(a.val_every), '--ckpt_every', str(a.ckpt_every), '--log_every', '20',
            '--num_workers', str(a.workers), '--device', a.device,
            *(['--threads', '1'] if a.device == 'cpu' else []), *extra]

def run_rows(names:list, caches:dict, run:Path, a)->dict:
    ("Train every row at once; stop those still running at the deadline. "
     "Returns name -> exit status and seconds.")
    procs, t0 = {}, time.time()
    for n in names:
        log = open(run/f'{n}.log', 'w')
        procs[n] = (subprocess.Popen(train_command(n, caches[ROWS[n][0]], run, a), stdout=log,
                                     stderr=subprocess.STDOUT), log)
    done = {}  # name -> seconds from the start to the row's own end
    while len(done) < len(procs) and time.time()-t0 < 60*a.minutes:
        done |= {n: time.time()-t0 for n,(p,_) in procs.items() if n not in done and p.poll() is not None}
        time.sleep(2)
    status = {}
    for n,(p,log) in procs.items():
        if p.poll() is None: p.terminate(); p.wait(30)
        log.close(); status[n] = dict(returncode=p.returncode, seconds=round(done.get(n, time.time()-t0), 1))
    return status

def pack_weights(state:dict)->dict:
    "Floating tensors as int8 with one fp16 scale per output row (per tensor for vectors); others unchanged."
    out = {}
    for k,v in state.items():
        if not v.is_floating_point() or v.numel() < 256: out[k] = v; continue
        w = v.float().reshape(v.shape[0], -1) if v.dim() > 1 else v.float()[None]
        s = (w.abs().amax(1, keepdim=True)/127).clamp(min=1e-12)
        out[k] = dict(q=(w/s).round().to(torch.int8), scale=s.half(), shape=tuple(v.shape))
    return out

def unpack_weights(packed:dict)->dict:
    "fp16 tensors back from `pack_weights`."
    return {k: (v['q'].float()*v['scale'].float()).reshape(v['shape']).half() if isinstance(v, dict) else v
            for k,v in packed.items()}

def speak_val(release:Path, cache:Path, device:str)->dict:
    ("Predicted log-mels (fp16) of the cache's validation clips, by clip id; a model that needs text "
     "is given each clip's transcript.")
    from l2s_nb.cache import CacheReader
    from l2s_nb.datasets import crop_frames
    from l2s_nb.recipes import load_recipe
    model = load_recipe(release, device=device)
    r = CacheReader(cache, video=model.video)
    mels = {}
    for row in (row for row in r.rows if row['split'] == 'val'):
        rec = r.load(row)
        mouth = crop_frames(rec['mouth'], model.video.crop_size).astype(np.float32)/255
        text = dict(text=[str(rec['text'])]) if model.needs_text else {}
        mel = model.generate(torch.from_numpy(mouth)[None].to(device), **text)[0]
        mels[row['id']] = mel.half().cpu().numpy()
    return mels

def collect(name:str, run:Path, caches:dict, out:Path, a, weights:bool=True)->dict:
    "Export row `name`'s best (else last) checkpoint, speak the validation clips, write its transfer files."
    from l2s_nb.train import export_release, read_log
    ck = run/name/'checkpoints'
    src = ck/'best.pt' if (ck/'best.pt').exists() else ck/'last.pt'
    if not src.exists(): return dict(error='no checkpoint')
    rel = export_release(src, run/f'{name}.pt')
    mels = speak_val(rel, caches[ROWS[name][0]], a.device)
    np.savez_compressed(run/f'{name}_mels.npz', **mels)
    state = torch.load(rel, map_location='cpu', weights_only=False)
    if weights: torch.save(dict(state, model=pack_weights(state['model'])), out/f'{name}.int8.pt')
    val = read_log(run/name, 'val')
    return dict(checkpoint=src.name, step=state['step'], val=val,
                train_last=(read_log(run/name, 'train') or [{}])[-1])

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('caches', help='folder of format-2 caches, one per region (l2s pack)')
    ap.add_argument('out', help='folder for what comes back: int8 weights, mels and logs (tar), summary JSON')
    ap.add_argument('--rows', default=','.join(ROWS), help='comma-separated rows of ROWS to run')
    ap.add_argument('--no_weights', default='multitask_half_data',
                    help='rows whose weights stay behind (comma-separated)')
    ap.add_argument('--minutes', type=float, default=6, help='deadline for training, after the unpacking')
    ap.add_argument('--work', help='scratch folder (unpacked caches, runs); default: a new temporary one, '
                    'so that a second run on the same machine does not meet the first one\'s runs')
    ap.add_argument('--preset', default='base'); ap.add_argument('--steps', type=int, default=1400)
    ap.add_argument('--batch_size', type=int, default=32); ap.add_argument('--lr', type=float, default=1.5e-3)
    ap.add_argument('--warmup', type=int, default=100); ap.add_argument('--val_every', type=int, default=200)
    ap.add_argument('--ckpt_every', type=int, default=100); ap.add_argument('--workers', type=int, default=3)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--dry_run', '--dry-run', action='store_true',
                    help='tiny preset, 3 steps, batch 2, on the CPU')
    a = ap.parse_args(argv)
    if a.dry_run: a.preset, a.steps, a.batch_size, a.val_every, a.ckpt_every, a.workers, a.device = (
        'tiny', 3, 2, 3, 3, 0, 'cpu')
    out, work = Path(a.out), Path(a.work or tempfile.mkdtemp(prefix='ablation_'))
    out.mkdir(parents=True, exist_ok=True)
    (work/'runs').mkdir(parents=True, exist_ok=True)
    t = time.time(); caches = unpack_caches(Path(a.caches), work); unpack_s = time.time()-t
    names = [n for n in a.rows.split(',') if ROWS[n][0] in caches]
    skip = [n for n in names if CONTENT_JUDGE in ' '.join(ROWS[n][2])]
    if skip and not Path(CONTENT_JUDGE).exists():
        print(f'{CONTENT_JUDGE} is missing, so rows {skip} are skipped: carry the content judge there')
        names = [n for n in names if n not in skip]
    status = run_rows(names, caches, work/'runs', a)
    res = dict(command=' '.join(['python tools/gpu_ablation.py',
                                 *(argv if argv is not None else sys.argv[1:])]),
               device=torch.cuda.get_device_name() if a.device.startswith('cuda') else 'cpu',
               settings=dict(preset=a.preset, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
                             warmup=a.warmup, minutes=a.minutes, workers_per_run=a.workers,
                             concurrent_runs=len(names)),
               unpack_s=round(unpack_s, 1), rows={})
    for n in names:
        res['rows'][n] = dict(command=' '.join(['l2s', *train_command(n, Path(f'CACHE_{ROWS[n][0]}'),
                                                                    Path('RUNS'), a)[3:]]),
                              **status[n])
        try: res['rows'][n].update(collect(n, work/'runs', caches, out, a, n not in a.no_weights.split(',')))
        except Exception as e: res['rows'][n]['error'] = f'{type(e).__name__}: {e}'
    with tarfile.open(out/'runs.tar.gz', 'w:gz') as tar:
        if (work/'stderr.log').exists(): tar.add(work/'stderr.log', 'stderr.log')
        for n in names:
            for f in [work/'runs'/f'{n}.log', work/'runs'/f'{n}_mels.npz', *(work/'runs'/n).glob('*.*')]:
                if f.exists(): tar.add(f, f'{n}/{f.name}')
    (out/'ablation.json').write_text(json.dumps(res, indent=1, default=str) + '\n')
    print(json.dumps({n: {k: v for k,v in r.items() if k in ('returncode', 'seconds', 'step', 'error')}
                      for n,r in res['rows'].items()}))
    return res

if __name__ == '__main__': main()
