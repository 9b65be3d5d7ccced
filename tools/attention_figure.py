"""Where the visual TTS decoder reads in the text: its cross-attention on one validation clip, beside the
lips' CTC alignment, for checkpoints side by side (e.g. before and after the alignment guide).

    python tools/attention_figure.py runs/vtts_grid.pt runs/vtts_guided.pt --labels "no guide" "CTC guide" \\
        --cache gpu/caches/grid_s1_mouth --out data/results/visual_tts_attention.png
"""
import argparse
from pathlib import Path
import numpy as np, torch

def attention(model, rec:dict)->tuple:
    ("The decoder's cross-attention on clip `rec` saying its transcript, averaged over blocks (rT, L+1), "
     "and the CTC alignment (T,) if the model has a CTC head (else None).")
    from l2s_nb.datasets import crop_frames
    from l2s_nb.visual_tts import encode_texts, ctc_positions
    mouth = torch.from_numpy(crop_frames(rec['mouth'], model.video.crop_size).astype(np.float32)/255)[None]
    tokens, lens = encode_texts(model.tokenizer, [str(rec['text'])], 1)
    with torch.no_grad():
        out = model.synthesize(mouth, torch.tensor([mouth.shape[1]]), tokens, lens, weights=True)
    pos = ctc_positions(out['ctc_logp'][0].numpy(), tokens[0].tolist()) if 'ctc_logp' in out else None
    return out['attn'][0].mean(0).numpy(), pos

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoints', nargs='+', help='visual_tts checkpoints, one panel each')
    ap.add_argument('--labels', nargs='+', help='panel titles (default: the file names)')
    ap.add_argument('--cache', required=True, help='prep cache whose validation clip is spoken')
    ap.add_argument('--clip', default='', help="the clip's id (default: the first validation clip)")
    ap.add_argument('--out', required=True, help='PNG file')
    a = ap.parse_args(argv)
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from l2s_nb.cache import CacheReader
    from l2s_nb.config import atomic_write
    from l2s_nb.recipes import load_recipe
    torch.set_num_threads(1)
    reader = CacheReader(a.cache)
    row = next((r for r in reader.rows if (r['id'] == a.clip if a.clip else r['split'] == 'val')), None)
    if row is None:
        raise SystemExit(f"{a.cache}: no clip {a.clip!r} in its manifest" if a.clip
                         else f"{a.cache}: no validation clips in its manifest; name one with --clip")
    rec = reader.load(row)
    maps = [attention(load_recipe(ck, recipe='visual_tts'), rec) for ck in a.checkpoints]
    pos = next((p for _,p in maps if p is not None), None)
    labels = a.labels or [Path(ck).stem for ck in a.checkpoints]
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2*len(maps), 4.4), squeeze=False)
    symbols = ['<s>', *str(rec['text']).replace(' ', '_')]
    for ax, (att, _), label in zip(axes[0], maps, labels):
        ax.imshow(att.T, origin='lower', aspect='auto', cmap='magma', vmin=0, interpolation='nearest')
        if pos is not None:
            r = att.shape[0] // len(pos)
            ax.plot(np.arange(att.shape[0]), np.repeat(pos, r), color='cyan', lw=1, label='CTC alignment')
            ax.legend(loc='upper left', fontsize=7)
        ax.set_yticks(range(len(symbols))); ax.set_yticklabels(symbols, fontsize=6, family='monospace')
        ax.set_xlabel('mel frame (10 ms)'); ax.set_title(f'{label}: "{rec["text"]}"', fontsize=9)
    axes[0][0].set_ylabel('text position')
    fig.tight_layout()
    atomic_write(Path(a.out), lambda p: fig.savefig(p, dpi=90, format='png'))
    print(a.out)

if __name__ == '__main__': main()
