"The papermill experiment notebooks run end to end with parameters, and keep their outputs out of nbs/."
import json
from pathlib import Path
import pytest
from conftest import ROOT

papermill = pytest.importorskip('papermill')
NB = ROOT/'nbs'/'experiments'

def test_train_eval_then_compare(tmp_path):
    run = tmp_path/'runs'/'mini'; run.mkdir(parents=True)
    papermill.execute_notebook(str(NB/'train_eval.ipynb'), str(run/'train_eval.ipynb'), kernel_name='python3',
                               language='python', cwd=str(tmp_path),
                               parameters=dict(run_dir=str(run), clips=24, speakers=1, steps=3, batch_size=2,
                                               warmup_steps=1, eval_split='train', max_eval=2),
                               progress_bar=False)
    res = json.loads((run/'results.json').read_text())
    assert res['n'] == 2 and res['config']['steps'] == 3 and 0 <= res['model']['stoi']['mean'] <= 1
    executed = json.loads((run/'train_eval.ipynb').read_text())
    assert any(c.get('outputs') for c in executed['cells'] if c['cell_type'] == 'code')
    papermill.execute_notebook(str(NB/'compare.ipynb'), str(tmp_path/'compare.ipynb'), kernel_name='python3',
                               language='python', cwd=str(tmp_path),
                               parameters=dict(runs_glob=str(tmp_path/'runs'/'*'/'results.json'),
                                               out=str(tmp_path/'comparison.md')), progress_bar=False)
    table = (tmp_path/'comparison.md').read_text()
    assert 'mini: multitask `tiny` on synthgrid (3 steps)' in table and 'Griffin-Lim oracle' in table

def test_experiment_notebooks_are_not_exported_or_nbdev_tested():
    assert (NB/'.notest').exists()
    for nb in NB.glob('*.ipynb'):
        cells = json.loads(nb.read_text())['cells']
        assert not any('default_exp' in ''.join(c['source']) for c in cells)
        assert any('parameters' in c.get('metadata', {}).get('tags', []) for c in cells), nb

def test_ablation_notebook_renders_the_committed_ablation(tmp_path):
    out = tmp_path/'ablation.ipynb'
    papermill.execute_notebook(str(NB/'ablation.ipynb'), str(out), kernel_name='python3', language='python',
                               cwd=str(ROOT), progress_bar=False)
    text = json.dumps(json.loads(out.read_text()))
    assert '| `multitask` | 600 steps' in text and 'mean speech (floor)' in text and 'image/png' in text
    assert '| truth_blur_t2 |' in text and 'predicted_gv - predicted' in text and 'frame-to-frame change' in text

@pytest.mark.parametrize('name', ['train_eval', 'compare', 'ablation'])
def test_papermill_lists_every_parameter(name):
    "`papermill --help-notebook` works on each notebook and infers every parameter with its type."
    cell = next(c for c in json.loads((NB/f'{name}.ipynb').read_text())['cells']
                if 'parameters' in c['metadata'].get('tags', []))
    names = [l.split(':')[0] for l in ''.join(cell['source']).splitlines() if l.strip()]
    got = papermill.inspect_notebook(str(NB/f'{name}.ipynb'))
    assert list(got) == names
    assert all(p['inferred_type_name'] != 'None' for p in got.values()), got
