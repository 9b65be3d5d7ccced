#!/usr/bin/env python
"""Execute a lesson notebook in place (default nbs/96_lesson.ipynb) so its outputs are stored for readers on GitHub.

Live progress bars are dropped from the stored outputs: they are ipywidgets whose state is not kept in the file
(nbdev_clean strips notebook metadata), so they would show as empty widgets. Then `nbdev_clean` normalises the file;
running `nbdev_clean` again afterwards changes nothing.

    python tools/execute_lesson.py [nbs/96_lesson.ipynb]
"""
import os, subprocess, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

WIDGET = 'application/vnd.jupyter.widget-view+json'

def execute(path:Path, timeout:int=900)->Path:
    "Run every cell of `path` in its folder and write it back without widget outputs, cleaned."
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type=='code': cell.outputs = [o for o in cell.outputs if WIDGET not in o.get('data', {})]
    nb.metadata.pop('widgets', None)
    nbformat.write(nb, path)
    subprocess.run(['nbdev_clean', '--fname', str(path)], check=True)
    return path

if __name__=='__main__':
    root = Path(__file__).resolve().parents[1]
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [str(root), os.environ.get('PYTHONPATH')]))  # this checkout's l2s_nb
    p = execute(Path(sys.argv[1]) if len(sys.argv)>1 else root/'nbs'/'96_lesson.ipynb')
    print(f"{p}: {p.stat().st_size/1e6:.2f} MB")
