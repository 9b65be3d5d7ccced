"""Render nbs/index.ipynb to README.md: markdown cells as they are, code cells as fenced Python, hidden cells
and directives dropped, and the `<!-- results -->` block filled with the table that
`l2s_nb.results.results_table` makes from data/results/*.json."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = re.compile(r"<!-- results -->.*?<!-- /results -->", re.S)

def results_block(results_dir=None) -> str:
    "The README's generated Results table between its markers, from this checkout's package and results."
    if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
    from l2s_nb.results import results_table
    return f"<!-- results -->\n{results_table(results_dir)}<!-- /results -->"

def render(nb_path=ROOT/'nbs'/'index.ipynb', results_dir=None) -> str:
    "README text for the notebook at `nb_path`, its results block filled from `results_dir` (data/results)."
    parts = []
    for cell in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown': parts.append(src.strip())
        elif cell['cell_type'] == 'code' and not re.search(r'^#\|\s*(hide|export)', src, re.M):
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if code: parts.append(f"```python\n{code}\n```")
    return RESULTS.sub(lambda m: results_block(results_dir), '\n\n'.join(parts) + '\n')

def quickstart_commands(readme=ROOT/'README.md') -> list[str]:
    "The shell commands of the README's Quickstart section, in order."
    text = Path(readme).read_text().split('## Quickstart', 1)[1].split('\n## ', 1)[0]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, re.S)]

if __name__ == '__main__':
    if sys.argv[1:2] == ['--command']: print(quickstart_commands()[int(sys.argv[2])-1])
    else:
        (ROOT/'README.md').write_text(render())
        print('wrote', ROOT/'README.md', file=sys.stderr)
