"""Compare vocoders on SynthGRID (e.g. data/results/vocoder_synthgrid.json): the quickstart's corpus and test split,
the committed `tiny` SynthGRID model's predicted mels and the recordings' own mels (copy synthesis), each through
Griffin-Lim and through trained vocoders, scored with the committed SynthGRID judge.

    python tools/vocoder_synthgrid.py data/checkpoints/vocoder_istft_synthgrid.pt --run runs/sgvoc/voc \\
        --work runs/sgvoc/eval --out data/results/vocoder_synthgrid.json

The corpus is the quickstart's (`ExperimentConfig()`: 600 clips, 2 speakers, seed 0), generated and prepared in
`--work`; each vocoder's scores are kept there too, so a rerun only scores the vocoders it has not seen. A vocoder
trained on another SynthGRID seed has heard neither its voices nor its clips. The rows have the layout of
`tools/vocoder_results.py`, so `l2s_nb.results.vocoder_table` shows them.
"""
import argparse, json, sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from vocoder_results import training, paired  # noqa: E402

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('vocoders', nargs='*',
                    help='trained vocoder checkpoints (Griffin-Lim is always the first row)')
    ap.add_argument('--model', default='data/checkpoints/multitask_tiny_synthgrid.pt',
                    help='lip-to-speech checkpoint')
    ap.add_argument('--run', nargs='*', default=[], help='the training run folder of each vocoder, in order')
    ap.add_argument('--work', default='runs/vocoder_synthgrid', help='corpus, cache and scored speech')
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    from l2s_nb.config import atomic_write, run_info
    from l2s_nb.experiment import ExperimentConfig, corpus_root, prepare_data, evaluate_model
    from l2s_nb.vocoder import load_vocoder, vocoder_speed
    cfg, work = ExperimentConfig(), Path(a.work)
    root = corpus_root(cfg, work); cache = prepare_data(cfg, work, root)
    runs, rows = dict(zip(a.vocoders, a.run)), {}
    for v in ['griffin_lim', *a.vocoders]:
        done = work/Path(v).stem/'evaluation.json'  # rows already scored are read back: the tool resumes
        if not done.exists():
            res = evaluate_model(a.model, cache, replace(cfg, vocoder=v), done.parent, root)
            atomic_write(done, lambda p: p.write_text(json.dumps(res, indent=1, default=str)))
        res = json.loads(done.read_text())
        voc = load_vocoder(v)
        rows[v] = dict(copy=res['oracle'], predicted=res['model'], model=a.model, n=res['n'],
                       params=sum(p.numel() for p in voc.parameters()),
                       seconds_per_3s=round(vocoder_speed(voc), 4))
        if v != 'griffin_lim': rows[v].update(step=voc.step, size_mb=round(Path(v).stat().st_size/2**20, 2))
        if v in runs: rows[v]['training'] = training(Path(runs[v]))
        print(v, *(f"{part} {k}={rows[v][part][k]['mean']:.3f}" for part in ('copy', 'predicted')
                   for k in ('stoi', 'estoi', 'pesq_wb', 'wer')))
    gl = work/'griffin_lim'/'eval'
    for v in a.vocoders:  # per clip, against Griffin-Lim on the same predicted mels
        rows[v]['predicted_minus_griffin_lim'] = paired(gl/'ref', work/Path(v).stem/'eval'/'gen', gl/'gen')
    res = dict(what="vocoders side by side on the quickstart's SynthGRID test clips: copy synthesis "
                    "(the recording's own log-mel) and the committed tiny model's predicted mels, "
                    "scored against the recordings",
               command=' '.join(['python tools/vocoder_synthgrid.py',
                                 *(argv if argv is not None else sys.argv[1:])]),
               corpus=dict(layout='synthgrid', clips=cfg.clips, speakers=cfg.speakers, seed=cfg.seed,
                           split=cfg.eval_split,
                           version=json.loads((root/'synthgrid.json').read_text())['version']),
               judge=res['judge'], release=(a.vocoders or [None])[0], rows=rows,
               run_info=run_info())
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res

if __name__ == '__main__': main()
