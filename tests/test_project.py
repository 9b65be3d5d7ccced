("Project hygiene: pins agree, install stays CPU-only, README matches its notebook "
 "and CI runs the README's commands.")
import configparser, json, re, shutil, subprocess, sys
from pathlib import Path
import yaml
from conftest import ROOT
sys.path.insert(0, str(ROOT/'tools'))
import readme

def _ini():
    c = configparser.ConfigParser(delimiters=['=']); c.read(ROOT/'settings.ini')
    return c['DEFAULT']

def _pins(reqs):
    "{normalised name: version} of `name==version` lines."
    return {n.lower().replace('_', '-'): v for n, v in (r.split('==') for r in reqs)}

def test_every_dependency_is_pinned_exactly():
    for key in ('requirements', 'dev_requirements'):
        for r in _ini()[key].split():
            assert re.fullmatch(r'[A-Za-z0-9_.\-]+==[0-9][^=]*', r), f'{key}: {r} is not an exact pin'

def test_environment_yml_matches_settings_ini():
    ini = _pins(_ini()['requirements'].split() + _ini()['dev_requirements'].split())
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    pip = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict))
    assert _pins(p for p in pip if '==' in p) == ini
    assert '-c constraints.txt' in pip

def test_constraints_lock_the_direct_pins():
    lock = _pins(l for l in (ROOT/'constraints.txt').read_text().splitlines() if l and not l.startswith('#'))
    for name, ver in _pins(_ini()['requirements'].split() + _ini()['dev_requirements'].split()).items():
        assert lock.get(name) == ver, (
            f'constraints.txt disagrees with settings.ini on {name}; run tools/lock.sh')
    assert not {'torchvision', 'torchaudio', 'nvidia-cudnn-cu12'} & set(lock)

def test_cpu_only_torch():
    ini = _pins(_ini()['requirements'].split())
    assert ini['torch'] == '2.13.0'
    assert not {'torchvision', 'torchaudio'} & set(ini)

def test_readme_is_rendered_from_index():
    assert (ROOT/'README.md').read_text() == readme.render(), 'run: python tools/readme.py'

def test_readme_has_two_quickstart_commands_and_ci_runs_the_second():
    install_and_run, install_and_test = readme.quickstart_commands()
    assert 'pip install -e . -c constraints.txt' in install_and_run and 'l2s quickstart' in install_and_run
    assert '-c constraints.txt' in install_and_test
    assert 'nbdev_test' in install_and_test and 'pytest tests' in install_and_test
    assert 'tools/readme.py --command 2' in (ROOT/'.ci'/'run').read_text()

def test_papermill_tag_survives_nbdev_clean():
    assert _ini()['allowed_cell_metadata_keys'].split() == ['tags']

def test_notebooks_that_show_keep_their_figures_within_budget(tmp_path):
    ("The teaching notebooks keep small outputs, with at least one figure each, "
     "stored as nbdev_clean leaves them.")
    import execute_notebooks as ex
    nbs = [p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts]
    sizes = {p.relative_to(ROOT).as_posix(): p.stat().st_size for p in nbs}
    assert not {n: s for n, s in sizes.items() if s > ex.MAX_NB_BYTES}, 'notebooks over 1 MB'
    assert sum(sizes.values()) <= ex.MAX_TOTAL_BYTES, (
        f'nbs/ holds {sum(sizes.values())/1e6:.2f} MB of notebooks')
    for p in ex.shown_paths():
        outs = [o for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'code'
                for o in c['outputs']]
        rerun = f'rerun: python tools/execute_notebooks.py nbs/{p.name}'
        assert any('image/png' in o.get('data', {}) for o in outs), f'{p.name} lost its figures; {rerun}'
        assert '/tmp/tmp' not in json.dumps(outs), f'{p.name}: a temporary path in the outputs; {rerun}'
        shutil.copy(p, tmp_path/p.name)
    nbdev_clean = Path(sys.executable).parent/'nbdev_clean'
    subprocess.run([nbdev_clean, '--fname', tmp_path], check=True, cwd=ROOT, capture_output=True)
    for p in ex.shown_paths():
        assert (tmp_path/p.name).read_text() == p.read_text(), f'nbdev_clean changes {p.name}'
    shown = [l for l in (ROOT/'README.md').read_text().splitlines() if 'tools/execute_notebooks.py' in l]
    assert shown and not [n for n in ex.SHOWN if f'`{n}' not in shown[0]], (
        'README: name every notebook of execute_notebooks.SHOWN where it says they keep their outputs')
