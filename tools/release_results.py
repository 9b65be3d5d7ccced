"""Results of a release checkpoint that training made in stages (e.g. a model fine-tuned further from an
earlier release): scores it as `run_experiment` scores its own model, beside the Griffin-Lim oracle and the
mean-speech baseline on a cache's validation split, and records every training stage with its command.

    git show ca8f1a5:data/results/grid_s1_release.json > runs/release_before.json  # where it started
    python tools/release_results.py data/checkpoints/multitask_base_grid_s1.pt --run runs/ft4k_lr1 \\
        --command 'l2s train ...' --previous runs/release_before.json --cache CACHE --root ../shared/grid \\
        --out data/results/grid_s1_release.json

`--previous` is the results JSON of the release this one was fine-tuned from: a `run_experiment` result (its
`train` block is the first stage) or an earlier output of this tool (its `training` stages).
"""
import argparse, json, shlex, time
from datetime import datetime
from pathlib import Path

def stages_of(previous:dict, name:str)->list:
    "The training stages recorded in a `run_experiment` result or an earlier output of this tool."
    if 'training' in previous: return previous['training']
    t = previous.get('train')
    if not t: raise SystemExit(f"{name}: neither `training` stages nor a `train` block to start from")
    return [dict(steps=t['steps'], batch_size=t['batch_size'], lr=t['lr'], threads=t['threads'],
                 minutes=t['minutes'], command=t['command'], results=name)]

def run_stage(run:Path, command:str, threads:int)->dict:
    "One training stage from its run folder: settings, wall minutes (start to last checkpoint), command."
    from l2s_nb.config import load_config
    from l2s_nb.recipes import read_checkpoint
    from l2s_nb.train import TrainConfig
    cfg = load_config(TrainConfig, run/'train_config.yaml')
    start = json.loads((run/'run_info.json').read_text())
    last = read_checkpoint(run/'checkpoints'/'last.pt')
    wall = datetime.fromisoformat(last['run_info']['time']) - datetime.fromisoformat(start['time'])
    return dict(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, ema=cfg.ema, threads=threads,
                minutes=round(wall.total_seconds()/60, 1), command=command, run_info=start)

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoint', help='the release checkpoint to score')
    ap.add_argument('--run', required=True, help='the run folder of its last training stage')
    ap.add_argument('--command', required=True, help='the command of that stage')
    ap.add_argument('--threads', type=int, default=1, help='the CPU threads that stage trained with')
    ap.add_argument('--previous', required=True, help='results JSON of the release that stage started from')
    ap.add_argument('--cache', required=True, help='format-1 prep cache with the clips to score')
    ap.add_argument('--root', required=True, help='the corpus root (its recordings are the references)')
    ap.add_argument('--corpus', default='grid'); ap.add_argument('--split', default='val')
    ap.add_argument('--work', default='runs/release_results', help='folder for the spoken clips')
    ap.add_argument('--max_eval', type=int, default=0, help='score at most this many clips (0: all)')
    ap.add_argument('--what', default='', help='what the release is')
    ap.add_argument('--replaces', default='', help="the release it replaces, and where that is kept")
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    from l2s_nb.config import atomic_write, run_info, to_dict
    from l2s_nb.experiment import ExperimentConfig, evaluate_model
    from l2s_nb.recipes import read_checkpoint
    previous = json.loads(Path(a.previous).read_text())
    stages = stages_of(previous, a.previous) + [run_stage(Path(a.run), a.command, a.threads)]
    ck = read_checkpoint(a.checkpoint)
    cfg = ExperimentConfig(corpus=a.corpus, root=a.root, cache='CACHE', recipe=ck['recipe'],
                           preset=previous['config']['preset'], steps=sum(s['steps'] for s in stages),
                           batch_size=stages[-1]['batch_size'], lr=stages[-1]['lr'], eval_split=a.split,
                           max_eval=a.max_eval)
    t = time.perf_counter()
    res = evaluate_model(a.checkpoint, a.cache, cfg, a.work, a.root)
    res = dict(what=a.what, **({'replaces': a.replaces} if a.replaces else {}), config=to_dict(cfg), **res,
               seconds=dict(eval_s=round(time.perf_counter()-t, 1)), checkpoint=a.checkpoint, step=ck['step'],
               training=stages, train_minutes=round(sum(s['minutes'] for s in stages), 1),
               score_command=shlex.join(['python', 'tools/release_results.py', *(argv or [])]),
               run=run_info(0))
    atomic_write(a.out, lambda p: p.write_text(json.dumps(res, indent=1)))
    return res

if __name__ == '__main__':
    import sys; main(sys.argv[1:])
