"""Assemble a vocoder comparison (e.g. data/results/vocoder_grid_s1.json): one row per vocoder with its copy
synthesis (`l2s oracles --vocoder V`), its speech from a lip-to-speech model's predicted mels
(`tools/score_checkpoints.py --vocoder V`), its seconds per 3 s clip on one CPU thread, its size and, for trained
vocoders, the training run that made it.

    python tools/vocoder_results.py --copy runs/copy_gl/oracles.json runs/copy_istft/oracles.json \\
        --predicted runs/pred_gl.json runs/pred_istft.json --run data/checkpoints/v.pt=runs/voc \\
        --commands runs/vocoder_commands.json --out data/results/vocoder_grid_s1.json

Rows are matched by the vocoder each input names; `--commands` is a JSON object of the commands that made the
inputs, stored as they are. With `--wavs V=DIR` (the predicted-mel speech of vocoder V) and `--refs`, each trained
vocoder also gets paired per-clip differences against Griffin-Lim: mean, bootstrap 95% interval, clips better.
"""
import argparse, json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from score_ablation import paired as paired_rows  # noqa: E402

def training(run_dir:Path)->dict:
    "A vocoder training run's data, config, preset, steps, last validation metrics and wall minutes."
    import yaml
    from datetime import datetime
    info = json.loads((run_dir/'run_info.json').read_text())
    last = run_dir/'checkpoints'/'last.pt'
    started = datetime.strptime(info['time'], '%Y-%m-%dT%H:%M:%S%z').timestamp()
    val = [json.loads(l) for l in (run_dir/'log.jsonl').read_text().splitlines() if '"val"' in l]
    return dict(run_dir=str(run_dir), data=json.loads((run_dir/'vocoder_data.json').read_text()),
                train=yaml.safe_load((run_dir/'train_config.yaml').read_text()),
                vocoder=yaml.safe_load((run_dir/'model_config.yaml').read_text()), device=info['device'],
                val_mel_l1={v['step']: round(v['mel'], 4) for v in val},
                wall_minutes=round((last.stat().st_mtime - started)/60, 1))

def paired(ref_dir, a_dir, b_dir, keys=('stoi', 'estoi', 'pesq_wb', 'pesq_nb'))->dict:
    "Per-clip differences a - b of the scores of two folders of speech for the same references."
    from l2s_nb.metrics import pair_files, score_files
    return paired_rows(*(score_files(pair_files(ref_dir, d), excluded=[]) for d in (a_dir, b_dir)), keys)

def main(argv=None)->dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--copy', nargs='+', required=True,
                    help='`l2s oracles` outputs (oracles.json), one per vocoder')
    ap.add_argument('--predicted', nargs='+', required=True,
                    help='`tools/score_checkpoints.py` outputs, one per vocoder')
    ap.add_argument('--run', nargs='*', default=[],
                    help='VOCODER=RUN_DIR: the training run of a vocoder checkpoint')
    ap.add_argument('--commands', help='JSON object: name -> command that made an input')
    ap.add_argument('--wavs', nargs='*', default=[],
                    help="VOCODER=DIR: its predicted-mel speech (incl. 'griffin_lim')")
    ap.add_argument('--refs', help='the references of the --wavs folders')
    ap.add_argument('--release', help='the vocoder checkpoint the project ships (the README row)')
    ap.add_argument('--out', required=True)
    a = ap.parse_args(argv)
    from l2s_nb.config import run_info
    from l2s_nb.vocoder import load_vocoder, vocoder_speed
    runs = dict(r.split('=', 1) for r in a.run)
    rows = {}
    for f in a.copy:
        o = json.loads(Path(f).read_text())
        rows.setdefault(o['vocoder'], {})['copy'] = o['oracles']['gt_mel']['summary']
    for f in a.predicted:
        p = json.loads(Path(f).read_text())
        (ck, r), = p['rows'].items()
        rows.setdefault(p['vocoder'], {}).update(predicted=r['scores'], model=ck, model_step=r['step'])
    missing = [v for v, r in rows.items() if {'copy', 'predicted'} - set(r)]
    if missing: raise SystemExit(f"vocoders without both a --copy and a --predicted input: {missing}")
    for v, r in rows.items():
        voc = load_vocoder(v)
        r.update(params=sum(p.numel() for p in voc.parameters()), seconds_per_3s=round(vocoder_speed(voc), 4))
        if v != 'griffin_lim': r.update(step=voc.step, size_mb=round(Path(v).stat().st_size/2**20, 2))
        if v in runs: r['training'] = training(Path(runs[v]))
    wavs = dict(w.split('=', 1) for w in a.wavs)
    for v, r in rows.items():
        if v != 'griffin_lim' and v in wavs and 'griffin_lim' in wavs:
            r['predicted_minus_griffin_lim'] = paired(a.refs, wavs[v], wavs['griffin_lim'])
    res = dict(what="vocoders side by side on the same clips: copy synthesis (the recording's own log-mel) "
                    "and speech from a lip-to-speech model's predicted mels, scored against the recordings",
               command=' '.join(['python tools/vocoder_results.py',
                                 *(argv if argv is not None else sys.argv[1:])]),
               commands=json.loads(Path(a.commands).read_text()) if a.commands else {}, release=a.release,
               rows=rows, run_info=run_info())
    Path(a.out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res

if __name__ == '__main__': main()
