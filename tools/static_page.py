#!/usr/bin/env python
"""Make one self-contained HTML page of the executed lesson and a demo run, for people without Jupyter.

Figures are <img> and sounds <audio> elements with data: URIs, so the page works offline as a single file.

    python tools/static_page.py [--out runs/lesson.html] [--lesson nbs/96_lesson.ipynb] [--clip VIDEO] [--no_demo]

The demo run speaks --clip (default: the first test clip of a small SynthGRID corpus made for the purpose) with
the committed checkpoints, as `l2s_nb.demo.Demo` does in the notebook.
"""
import sys, tempfile
from pathlib import Path
from fastcore.script import call_parse, store_true

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's l2s_nb

@call_parse
def main(out:str=str(ROOT/'runs'/'lesson.html'), # the HTML page to write
         lesson:str=str(ROOT/'nbs'/'96_lesson.ipynb'), # an executed notebook
         clip:str=None, # video for the demo section (default: a SynthGRID test clip)
         no_demo:store_true=False, # leave the demo section out
        ):
    "Write the executed lesson and a demo run as one self-contained HTML page."
    import torch
    from l2s_nb.config import L2SError
    from l2s_nb.demo import Demo, corpus_clips, demo_corpus, static_page
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as d:
            r = None
            if not no_demo:
                video = Path(clip) if clip else corpus_clips(demo_corpus(Path(d)/'synthgrid'))[0][1]
                r = Demo(out_dir=Path(d)/'demo').run(video)
            page = static_page(lesson, out, r)
    except L2SError as e: sys.exit(f"static_page: error: {e}")
    print(f"{page}: {page.stat().st_size/1e6:.2f} MB")
