"""Collect fine-tunes of one model into a results JSON: each run's validation log, its scores on the validation
clips, and per-clip paired differences against the first checkpoint scored (the control), from a
`tools/score_checkpoints.py --paired` output.

    python tools/score_checkpoints.py runs/ft_control.pt runs/ft_content.pt --paired \\
        --caches gpu/caches --root ../shared/grid --out runs/ft_content_score.json
    python tools/finetune_results.py runs/ft_content_score.json \\
        --runs control=runs/ft_control=runs/ft_control.pt content=runs/ft_content=runs/ft_content.pt \\
        --judges content_judge=runs/cj/content_judge.json --commands runs/ft_content_commands.json \\
        --what '...' --out data/results/finetune_content_grid_s1.json
"""
import argparse, json
from pathlib import Path
from visual_tts_results import parse_runs, val_log

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('score',
                    help='`tools/score_checkpoints.py --paired` output (the first checkpoint: control)')
    ap.add_argument('--runs', nargs='+', required=True,
                    help='NAME=RUN_DIR=RELEASE for each scored checkpoint (RUN_DIR may be empty)')
    ap.add_argument('--judges', nargs='*', default=[],
                    help='NAME=RESULTS: `l2s train-judge` results of the content judge the runs trained with')
    ap.add_argument('--commands', required=True, help='JSON: the commands that made every input')
    ap.add_argument('--what', required=True, help='what the fine-tunes compare')
    ap.add_argument('--finding', default='', help='what the numbers say')
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    runs = {rel: (name, d) for name, (d, rel) in parse_runs(a.runs).items()}
    if bad := [j for j in a.judges if '=' not in j]:
        raise SystemExit(f"--judges {bad[0]}: expected NAME=RESULTS")
    s = json.loads(Path(a.score).read_text())
    if 'paired' not in s: raise SystemExit(f"{a.score}: no paired differences; score with --paired")
    if missing := [ck for ck in s['rows'] if ck not in runs]:
        raise SystemExit(f"{a.score} scored {missing[0]}, which no --runs entry names")
    name = lambda ck: runs[ck][0]
    res = dict(what=a.what, commands=json.loads(Path(a.commands).read_text()), score_command=s['command'],
               vocoder=s['vocoder'], judge=s['judge'],
               rows={name(ck): dict(checkpoint=ck, step=r['step'], val_metrics=r['metrics'],
                                    val_log=val_log(Path(runs[ck][1])) if runs[ck][1] else [],
                                    scores=r['scores']) for ck, r in s['rows'].items()},
               paired={' - '.join(name(ck) for ck in k.split(' - ')): v for k, v in s['paired'].items()})
    for spec in a.judges:
        jname, f = spec.split('=', 1); j = json.loads(Path(f).read_text())
        res.setdefault('content_judges', {})[jname] = dict(
            results=f, val_wer=j['heldout']['val']['wer'], val_cer=j['heldout']['val']['cer'],
            train_wer=j['train']['wer'], n_params=j['n_params'], train_seconds=j['train_seconds'],
            val_wer_by_epoch=[round(h['val_wer'], 4) for h in j['history']])
    if a.finding: res['finding'] = a.finding
    from l2s_nb.config import run_info
    res['run_info'] = run_info()
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res

if __name__ == '__main__': main()
