"""Training speed on a GPU machine, in one command: where a training step's time goes (torch.profiler), the model's
step time with the data loader removed (a batch resident on the device), the cost of synchronising with the host
every step (as the trainer does for its finiteness checks and logs), the loader's throughput alone, and loader and
model together. Results go to data/results/train_speed.json; the profiler's trace to runs/ (git-ignored).

    python tools/bench_train_gpu.py --cache /data/grid_s1_v2                  # the GPU machine: preset base, bf16
    python tools/bench_train_gpu.py --batch_size 256 --compile --out runs/speed_compiled.json   # compiled, no loader
    python tools/bench_train_gpu.py --dry-run --out /tmp/train_speed.json      # any machine: tiny preset, CPU, 2 steps
"""
import argparse, itertools, json, sys, time
from pathlib import Path
import torch

def synthetic_batch(B:int, T:int, device)->dict:
    "A collated batch of `B` clips of `T` frames, on `device`."
    return dict(mouth=torch.rand(B, T, 88, 88, device=device), mel=torch.randn(B, 80, 4*T, device=device) - 4,
                video_len=torch.full((B,), T, device=device), mel_len=torch.full((B,), 4*T, device=device),
                tokens=torch.randint(1, 29, (B, 20), device=device),
                token_len=torch.full((B,), 20, device=device),
                speaker=torch.zeros(B, dtype=torch.long, device=device))

class Stepper:
    ("One optimiser step of a recipe on a batch: forward, loss, backward, clipping, AdamW "
     "(bf16 autocast and fused AdamW on CUDA, as in the trainer; optionally compiled).")
    def __init__(self, preset:str, device:str, amp:bool, compile:bool=False):
        from l2s_nb.recipes import build_recipe
        from l2s_nb.train import model_config_for
        self.model = build_recipe('multitask', model_config_for('multitask', preset)).to(device).train()
        if compile: self.model.compile()  # as `l2s train --compile` does
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=device.startswith('cuda') or None)
        self.device, self.amp = device, amp and device.startswith('cuda')

    def __call__(self, batch:dict, sync:bool=False):
        with torch.autocast('cuda', torch.bfloat16, enabled=self.amp):
            loss, _ = self.model.loss(batch, self.model(batch))
        self.opt.zero_grad(set_to_none=True); loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        # the trainer reads both every step (finiteness checks, logs)
        if sync: float(loss.detach()), float(gnorm)
        self.opt.step()

def wait(device:str):
    if device.startswith('cuda'): torch.cuda.synchronize()

def time_steps(step, batch, n:int, warmup:int, device:str, sync:bool=False)->dict:
    "Milliseconds per step of `n` steps after `warmup` ones, on a batch that stays on the device."
    for _ in range(warmup): step(batch, sync)
    wait(device); t = time.perf_counter()
    for _ in range(n): step(batch, sync)
    wait(device); ms = 1000*(time.perf_counter()-t)/n
    return dict(steps=n, ms_per_step=round(ms, 2), clips_per_second=round(len(batch['video_len'])*1000/ms, 1))

def profile_steps(step, batch, device:str, trace:Path|None, active:int)->list:
    "The ops that take most of `active` profiled steps' time (self time, device time on CUDA)."
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith('cuda') else [])
    step(batch); wait(device)
    with profile(activities=acts) as prof:
        for _ in range(active): step(batch); wait(device)
    if trace: trace.parent.mkdir(parents=True, exist_ok=True); prof.export_chrome_trace(str(trace))
    key = 'self_device_time_total' if device.startswith('cuda') else 'self_cpu_time_total'
    rows = sorted(prof.key_averages(), key=lambda e: -getattr(e, key))[:15]
    return [dict(op=e.key, calls=e.count, self_ms_per_step=round(getattr(e, key)/1000/active, 3))
            for e in rows]

def epochs(loader):
    "The batches of `loader`, epoch after epoch."
    from l2s_nb.datasets import set_epoch
    for e in itertools.count(): set_epoch(loader, e); yield from loader

def loader_steps(loader, n:int, step=None, device:str='cpu')->dict:
    ("Clips per second of `n` batches from `loader` (copied to the device, and trained on when `step` "
     "is given).")
    from l2s_nb.recipes import to_device
    it, clips = epochs(loader), 0
    next(it)  # workers started
    wait(device); t = time.perf_counter()
    for _ in range(n):
        batch = to_device(next(it), device); clips += len(batch['video_len'])
        if step: step(batch)
    wait(device); s = time.perf_counter()-t
    return dict(batches=n, clips_per_second=round(clips/s, 1), ms_per_batch=round(1000*s/n, 2))

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--cache',
                    help='prep cache (format 1 or 2) for the loader measurements; '
                    'none: only the model is timed')
    ap.add_argument('--out', default='data/results/train_speed.json', help='JSON file for the results')
    ap.add_argument('--trace', default='runs/train_profile.json',
                    help='chrome trace of the profiled steps ("" for none)')
    ap.add_argument('--preset', default='base'); ap.add_argument('--batch_size', type=int, default=16)
    ap.add_argument('--frames', type=int, default=75, help='frames per clip of the synthetic batch')
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--workers', type=int, default=8, help='loader workers')
    ap.add_argument('--stream', action='store_true',
                    help='read the cache with ShardStream instead of random access')
    ap.add_argument('--no_amp', action='store_true', help='float32 instead of bf16 autocast')
    ap.add_argument('--compile', action='store_true', help='torch.compile the model (as `l2s train --compile`)')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--dry_run', '--dry-run', action='store_true',
                    help='smoke test anywhere: tiny preset, CPU, 2 steps of 2 clips of 10 frames')
    a = ap.parse_args(argv)
    if a.dry_run: a.preset, a.batch_size, a.frames, a.steps, a.workers, a.device = 'tiny', 2, 10, 2, 0, 'cpu'
    from l2s_nb.config import run_info
    dev = a.device; cuda = dev.startswith('cuda')
    if not cuda: torch.set_num_threads(1 if a.dry_run else torch.get_num_threads())
    step, batch = Stepper(a.preset, dev, not a.no_amp, a.compile), synthetic_batch(a.batch_size, a.frames, dev)
    warmup = 1 if a.dry_run else 5
    res = dict(command=' '.join(['python tools/bench_train_gpu.py',
                                 *(argv if argv is not None else sys.argv[1:])]),
               device=dev, device_name=torch.cuda.get_device_name(dev) if cuda else 'cpu', preset=a.preset,
               batch_size=a.batch_size, frames=a.frames, amp=step.amp, compile=a.compile,
               params=sum(p.numel() for p in step.model.parameters()))
    res['model_only'] = time_steps(step, batch, a.steps, warmup, dev)
    res['model_only_sync_every_step'] = time_steps(step, batch, a.steps, 1, dev, sync=True)
    res['profile_top_ops'] = profile_steps(step, batch, dev, Path(a.trace) if a.trace else None,
                                           1 if a.dry_run else 3)
    if cuda: res['peak_memory_gib'] = round(torch.cuda.max_memory_allocated(dev)/2**30, 2)
    if a.cache:
        from l2s_nb.datasets import make_loader
        loader = lambda: make_loader(a.cache, 'train', batch_size=a.batch_size, workers=a.workers,
                                     stream=a.stream, pin_memory=cuda)
        res['loader'] = dict(workers=a.workers, stream=a.stream, **loader_steps(loader(), a.steps, None, dev))
        res['loader_and_model'] = loader_steps(loader(), a.steps, step, dev)
    res['run_info'] = run_info()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    print(json.dumps(res, indent=1))
    return res

if __name__ == '__main__': main()
