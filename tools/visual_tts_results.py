"""Collect the GRID runs of visual TTS (or another text-guided recipe) into one results JSON: each run's training
log, and its scores on the validation clips with each kind of text (`tools/score_checkpoints.py` outputs), beside
the multitask model.

    python tools/visual_tts_results.py --runs no_guide=runs/vtts_grid=runs/vtts_grid.pt \\
        ctc_guide=runs/vtts_guided=runs/vtts_guided.pt --scores runs/pred_vtts_*.json runs/pred_gl.json \\
        --lip_reader runs/lipread_lr_grammar.json --commands runs/vtts_commands.json \\
        --out data/results/visual_tts_grid_s1.json
"""
import argparse, json
from pathlib import Path
from score_checkpoints import GIVEN

def val_log(run:Path)->list:
    "The run's validation records, rounded."
    from l2s_nb.train import read_log
    return [{k: round(v, 4) if isinstance(v, float) else v for k,v in r.items()}
            for r in read_log(run, 'val')]

def parse_runs(specs:list)->dict:
    "NAME -> (RUN_DIR, RELEASE) from `--runs NAME=RUN_DIR=RELEASE ...`; a malformed entry is refused."
    if bad := [r for r in specs if r.count('=') != 2]:
        raise SystemExit(f"--runs {bad[0]}: expected NAME=RUN_DIR=RELEASE")
    return {name: (d, rel) for name, d, rel in (r.split('=') for r in specs)}

def texts_name(texts:str)->str:
    "'truth', 'other', 'none', or 'read' for a lip reader's output."
    return texts if texts in GIVEN else 'read'

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', nargs='+', required=True, help='NAME=RUN_DIR=RELEASE for each training run')
    ap.add_argument('--scores', nargs='+', required=True, help='tools/score_checkpoints.py outputs')
    ap.add_argument('--lip_reader', required=True, help="the `l2s score-lipread` output given as 'read' text")
    ap.add_argument('--own_reading', nargs='*', default=[],
                    help="NAME=FILE: `l2s score-lipread` of a run's own CTC head")
    ap.add_argument('--commands', required=True, help='JSON: the commands that made every input')
    ap.add_argument('--finding', default='', help='what the numbers say')
    ap.add_argument('--what', default="visual_tts on GRID s1: CPU fine-tunes from the committed multitask model's "
                    "visual side, scored on the 50 validation clips (centre crops, Griffin-Lim, the GRID judge) "
                    "when given each clip's transcript (truth), a lip reader's reading (read), the next clip's "
                    "transcript (other) or no text (none)", help='what the runs are (another text-guided recipe)')
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    runs = parse_runs(a.runs)
    by_release = {rel: name for name, (_, rel) in runs.items()}
    read = json.loads(Path(a.lip_reader).read_text())
    res = dict(what=a.what,
               commands=json.loads(Path(a.commands).read_text()),
               runs={name: dict(release=rel, val_log=val_log(Path(d))) for name, (d, rel) in runs.items()},
               lip_reader=dict(checkpoint=read['checkpoint'], step=read['step'],
                               **{k: read['scores']['grammar'][k] for k in ('wer', 'cer', 'slot_accuracy')}),
               own_reading={}, rows={})
    for spec in a.own_reading:
        name, f = spec.split('=', 1); s = json.loads(Path(f).read_text())['scores']
        res['own_reading'][name] = {d: dict(wer=v['wer'], cer=v['cer']) for d,v in s.items()}
    for f in a.scores:
        s = json.loads(Path(f).read_text())
        for ck, row in s['rows'].items():
            name = by_release.get(ck)
            key = f'{name}/{texts_name(s["texts"])}' if name else Path(ck).stem
            res['rows'][key] = dict(step=row['step'], **row['scores'])
    order = {t: k for k,t in enumerate(('truth', 'read', 'other', 'none'))}
    rank = lambda key: ((list(runs).index(key.split('/')[0]), order[key.split('/')[1]]) if '/' in key
                        else (len(runs), 0))
    res['rows'] = dict(sorted(res['rows'].items(), key=lambda kv: rank(kv[0])))
    if a.finding: res['finding'] = a.finding
    from l2s_nb.config import run_info
    res['run_info'] = run_info()
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res

if __name__ == '__main__': main()
