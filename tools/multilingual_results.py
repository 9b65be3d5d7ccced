#!/usr/bin/env python
"""Multilingual SynthGRID results: for each recipe, one model with a language embedding trained on every language,
and leave-one-language-out models scored on the language they never saw, beside the Griffin-Lim oracle and the
mean-speech baseline, per language (STOI, ESTOI, PESQ, judge WER/CER).

    l2s synthgrid runs/ml/sg --clips 1600 --speakers 16 --languages en,es,de,ru,hi,cmn --workers 2
    l2s prep synthgrid runs/ml/sg runs/ml/cache --workers 1
    l2s train-judge runs/ml/sg data/checkpoints/judge_synthgrid_multi.pt --results data/results/judge_synthgrid_multi.json --cache runs/ml/sg_mels.npz --epochs 40 --run_dir runs/ml/judge_run
    python tools/multilingual_results.py run runs/ml/runs --steps 600   # trains and scores; resumable
    python tools/multilingual_results.py run runs/ml/runs_vca_gan --steps 600 --recipe vca_gan
    python tools/multilingual_results.py collect runs/ml/runs runs/ml/runs_vca_gan --out data/results/multilingual_synthgrid.json

`run` makes one `run_experiment` folder per setting under RUNS (`all`: every language with the embedding;
`without_<L>`: trained without language L, no embedding, scored on L's test clips), all with one recipe's `tiny`
preset; `collect` reads the run folders of every recipe. Training does not need the judge: while the judge
checkpoint does not exist yet, `run` trains every setting and stops; run it again once the judge is trained to
score them (the trainer resumes at its last step, so nothing is trained twice, and the results report the
training time of both calls together). `--settings` picks some settings, so that two processes can share the work.
"""
import argparse, json, sys
from pathlib import Path

METRICS = ('stoi', 'estoi', 'pesq_wb', 'pesq_nb', 'wer', 'cer', 'wer_ref', 'cer_ref')
# held-out languages in the order they are run: three scripts first
ORDER = ('es', 'ru', 'cmn', 'hi', 'de', 'en')

def languages_of(cache)->list:
    "The languages of a prep cache's clips, sorted."
    from l2s_nb.corpora import read_tsv
    from l2s_nb.cache import language_of
    return sorted({language_of(r) for r in read_tsv(Path(cache)/'manifest.tsv')})

def settings(langs:list, held_out:list)->dict:
    "Experiment overrides of each setting: its run folder name → `ExperimentConfig` fields."
    out = dict(all=dict(recipe_set=[f"languages=[{','.join(langs)}]"]))
    for l in held_out:
        rest = [x for x in langs if x != l]
        out[f'without_{l}'] = dict(data_set=[f"languages=[{','.join(rest)}]"], eval_languages=[l])
    return out

def run(a):
    from l2s_nb.experiment import ExperimentConfig, run_experiment, train_experiment
    langs = languages_of(a.cache)
    held = [l for l in ORDER if l in langs]
    chosen = {name: over for name, over in settings(langs, held).items()
              if not a.settings or name in a.settings.split(',')}
    judged = Path(a.judge).exists()
    for name, over in chosen.items():
        if (Path(a.runs)/name/'results.json').exists(): print(name, 'done'); continue
        cfg = ExperimentConfig(corpus='synthgrid', root=a.root, cache=a.cache, steps=a.steps, judge=a.judge,
                               recipe=a.recipe, preset='tiny',
                               eval_split='test', threads=1, seed=a.seed, **over)
        if not judged: train_experiment(cfg, Path(a.runs)/name); print(name, 'trained', flush=True); continue
        res = run_experiment(cfg, Path(a.runs)/name)
        print(name, {k: round(res['model'][k]['mean'], 3) for k in ('stoi', 'cer')}, res['seconds'],
              flush=True)
    if not judged: print(f"{a.judge} does not exist yet: every setting is trained; run again to score them")

def _means(s:dict)->dict:
    return {k: {q: s[k][q] for q in ('mean', 'lo', 'hi', 'n')} for k in METRICS if k in s}

def read_runs(runs:Path)->tuple:
    "The recipe and the `results.json` of every setting in one run folder."
    res = {p.name: json.loads((p/'results.json').read_text()) for p in sorted(runs.iterdir())
           if (p/'results.json').exists()}
    if 'all' not in res:
        raise SystemExit(f"{runs}: no `all` run; run `{Path(__file__).name} run {runs}` first")
    return res['all']['config']['recipe'], res

def collect(a)->dict:
    from l2s_nb.config import run_info
    by_recipe = dict(read_runs(Path(r)) for r in a.runs)
    first = next(iter(by_recipe.values()))['all']
    table = {l: dict(oracle=_means(first['by_language']['oracle'][l]),
                     baseline=_means(first['by_language']['baseline'][l]))
             for l in sorted(first['by_language']['model'])}
    settings = dict(oracle="the recordings' mel through Griffin-Lim",
                    baseline='mean-speech mel through Griffin-Lim')
    for recipe, res in by_recipe.items():
        settings |= {recipe: f"one {recipe} `tiny` model, language embedding, trained on all languages",
                     f'{recipe}_unseen': f"{recipe} `tiny` without language L (no embedding), scored on L"}
        for lang, row in table.items():
            # the same clips: the same oracle, to float noise
            o = res['all']['by_language']['oracle'][lang]['stoi']
            if o['n'] != row['oracle']['stoi']['n'] or abs(o['mean'] - row['oracle']['stoi']['mean']) > 1e-3:
                raise SystemExit(f"{recipe}: its `all` run was scored on other {lang} clips than "
                                 f"{next(iter(by_recipe))}'s")
            row[recipe] = _means(res['all']['by_language']['model'][lang])
            if (r := res.get(f'without_{lang}')):
                if r['n'] != row['oracle']['stoi']['n']:
                    raise SystemExit(f"{recipe} without_{lang} was scored on {r['n']} clips, "
                                     f"`all` on {row['oracle']['stoi']['n']}")
                row[f'{recipe}_unseen'] = _means(r['model'])
    judge = json.loads(Path(a.judge_results).read_text())
    out = dict(
        commands=[l.strip() for l in __doc__.split('\n\n')[1].strip().splitlines()],
        corpus=dict(root=first['config']['root'],
                    **json.loads((Path(first['config']['root'])/'synthgrid.json').read_text()),
                    split='test', clips_per_language={l: r['oracle']['stoi']['n'] for l, r in table.items()}),
        settings=dict(settings, recipes=list(by_recipe), steps=first['config']['steps'],
                      batch_size=first['config']['batch_size'], threads=1, judge=first['judge']),
        judge=dict(checkpoint=a.judge, unit=judge['unit'], n_train=judge['n_train'],
                   n_params=judge['n_params'], train_seconds=judge['train_seconds'],
                   epochs=len(judge['history']), decoding=judge['decoding'],
                   heldout=judge['heldout'], heldout_by_language=judge['heldout_by_language']),
        per_language=table,
        runs={recipe: {k: dict(config=v['config'], n=v['n'], seconds=v['seconds'], run=v['run'])
                       for k, v in res.items()}
              for recipe, res in by_recipe.items()},
        run_info=run_info())
    Path(a.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + '\n')
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run'); r.add_argument('runs')
    r.add_argument('--root', default='runs/ml/sg'); r.add_argument('--cache', default='runs/ml/cache')
    r.add_argument('--judge', default='data/checkpoints/judge_synthgrid_multi.pt')
    r.add_argument('--steps', type=int, default=600); r.add_argument('--seed', type=int, default=0)
    r.add_argument('--recipe', default='multitask',
                   help='the recipe every setting trains (its `tiny` preset)')
    r.add_argument('--settings', default='',
                   help='comma-separated settings to run (all, without_es, ...; default: every one)')
    c = sub.add_parser('collect'); c.add_argument('runs', nargs='+', help='run folders, one per recipe')
    c.add_argument('--out', required=True)
    c.add_argument('--judge', default='data/checkpoints/judge_synthgrid_multi.pt')
    c.add_argument('--judge_results', default='data/results/judge_synthgrid_multi.json')
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    return run(a) if a.cmd == 'run' else collect(a)

if __name__ == '__main__': main()
