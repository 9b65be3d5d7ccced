#!/usr/bin/env python
"""Execute the notebooks that keep their outputs, in place, so that they show figures, sounds and tables.

`SHOWN` lists them: the teaching notebooks and the lesson. Each runs in its folder with this checkout's l2s_nb
and one thread; the outputs come from fixed seeds, so a rerun on the same machine writes the same file.
Cells that `nbdev_test` skips (flagged `#| slow`, `#| cuda`, `#| notest` or `#| eval: false`) are not run
and keep no outputs. Live progress bars are dropped from the stored outputs: they are ipywidgets whose state
is not kept in the file (nbdev_clean strips notebook metadata), so they would show as empty widgets. Names of
temporary folders in text outputs become `<tmp>`, consecutive prints to one stream become one output (the
kernel's split depends on timing), and figures are stored as 256-colour PNGs (half the bytes, no visible
change). Then `nbdev_clean` normalises each file (no execution counts, no cell metadata but tags); running it
again changes nothing.
tests/test_project.py checks the size budget and that each of them still holds a figure.

    python tools/execute_notebooks.py              # all of SHOWN
    python tools/execute_notebooks.py nbs/01_audio.ipynb ...
    python tools/execute_notebooks.py --check ...  # execute copies, report outputs that changed
"""
import argparse, base64, configparser, io, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path
import nbformat
from PIL import Image
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
SHOWN = ('01_audio', '02_video', '04_face', '11_multitask', '12_datasets', '18_visual_tts', '50_metrics',
         '96_lesson', '97_multilingual')
MAX_NB_BYTES, MAX_TOTAL_BYTES = 1_000_000, 8_000_000  # one notebook; all of nbs/ together
WIDGET = 'application/vnd.jupyter.widget-view+json'

TMP = re.compile(re.escape(tempfile.gettempdir()) + r'/tmp[\w]{8}')  # tempfile.mkdtemp() names

def shown_paths()->list[Path]: return [NBS/f'{n}.ipynb' for n in SHOWN]

def _skip_flags()->set:
    c = configparser.ConfigParser(delimiters=['=']); c.read(ROOT/'settings.ini')
    return set(c['DEFAULT']['tst_flags'].split())

def skipped(source:str, flags:set)->bool:
    "Whether nbdev_test leaves out a cell with this source (a test flag, or `#| eval: false`)."
    for line in source.splitlines():
        if not line.startswith('#|'): continue
        d = line[2:].split()
        if d and (d[0] in flags or d[:2] == ['eval:', 'false']): return True
    return False

def small_png(b64:str)->str:
    "The PNG re-encoded with a 256-colour palette, when that is smaller."
    raw = base64.b64decode(b64)
    img = Image.open(io.BytesIO(raw)).convert('RGB')
    img = img.quantize(256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)  # off by <= 5 levels
    buf = io.BytesIO(); img.save(buf, 'PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode() if buf.tell() < len(raw) else b64

def _merge_streams(outputs:list)->list:
    "Consecutive prints to one stream as one output (the kernel's split into messages depends on timing)."
    merged = []
    for o in outputs:
        if merged and o.output_type == merged[-1].output_type == 'stream' and o.name == merged[-1].name:
            merged[-1].text += o.text
        else: merged.append(o)
    return merged

def _tidy(o:dict)->dict:
    "One output with temporary folder names replaced and its PNG made small."
    if 'text' in o: o['text'] = TMP.sub('<tmp>', o['text'])
    data = o.get('data', {})
    for k, v in data.items():
        if k.startswith('text/') and isinstance(v, str): data[k] = TMP.sub('<tmp>', v)
    if 'image/png' in data: data['image/png'] = small_png(data['image/png'])
    return o

def execute(path:Path, out:Path|None=None, timeout:int=900)->Path:
    "Run every cell of `path` in its folder; write it (to `out`, default in place) without widgets, cleaned."
    path = Path(path).resolve(); out = Path(out or path)
    nb = nbformat.read(path, as_version=4)
    flags, skip = _skip_flags(), []
    for c in nb.cells:
        if c.cell_type=='code' and skipped(c.source, flags): c.cell_type = 'raw'; skip.append(c)  # not run
    NotebookClient(nb, timeout=timeout, kernel_name='python3',
                   resources={'metadata': {'path': str(path.parent)}}).execute()
    for c in skip: c.cell_type = 'code'; c.outputs = []
    for c in nb.cells:
        if c.cell_type!='code': continue
        c.outputs = [_tidy(o)
                     for o in _merge_streams([o for o in c.outputs if WIDGET not in o.get('data', {})])]
    nb.metadata.pop('widgets', None)
    nbformat.write(nb, out)
    subprocess.run(['nbdev_clean', '--fname', str(out)], check=True, cwd=ROOT)
    return out

def _outputs(path:Path)->list:
    nb = nbformat.read(path, as_version=4)
    return [c.outputs for c in nb.cells if c.cell_type=='code']

def check(path:Path)->bool:
    "Execute a copy of `path` and report the code cells whose outputs differ from the stored ones."
    with tempfile.TemporaryDirectory() as d:
        fresh = _outputs(execute(path, Path(d)/path.name))
    bad = [i for i, (a, b) in enumerate(zip(_outputs(path), fresh)) if a != b]
    print(f"{path.name}: " + (f"outputs of code cells {bad} differ" if bad else "outputs reproduced"))
    return not bad

if __name__=='__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', type=Path, help='default: every notebook in SHOWN')
    p.add_argument('--check', action='store_true', help='compare fresh outputs with the stored')
    a = p.parse_args()
    os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))
    os.environ.setdefault('OMP_NUM_THREADS', '1')  # same sums every run; no spin-waits on shared cores
    if not shutil.which('nbdev_clean'): sys.exit('nbdev_clean not found: activate the dev environment')
    ok = True
    for nb in a.notebooks or shown_paths():
        if a.check: ok &= check(nb.resolve())
        else: print(f"{nb}: {execute(nb).stat().st_size/1e6:.2f} MB")
    sys.exit(0 if ok else 1)
