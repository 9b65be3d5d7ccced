"The README's Results table is generated from data/results/*.json, and each of its numbers is in one."
import json, re, sys
from conftest import ROOT
sys.path.insert(0, str(ROOT/'tools'))
import readme
from l2s_nb.results import results_table, unsourced_numbers, results_dir, spread

def _readme_table()->str:
    m = re.search(r"<!-- results -->\n(.*?)<!-- /results -->", (ROOT/'README.md').read_text(), re.S)
    assert m, 'README.md has no <!-- results --> block: run python tools/readme.py'
    return m.group(1)

def test_readme_results_table_is_the_generated_one():
    assert results_dir() == ROOT/'data'/'results'
    assert _readme_table() == results_table(), 'run: python tools/readme.py'
    assert readme.results_block() in (ROOT/'README.md').read_text()

def test_every_number_in_the_readme_results_table_is_in_a_committed_json():
    table = _readme_table()
    assert len(table.splitlines()) == 11
    assert unsourced_numbers(table) == []
    assert unsourced_numbers(table.replace('| SynthGRID, ', '| SynthGRID, 1234.5 min and ')) == ['1234.5']

def _check_aggregate(sp):
    for k, a in sp['aggregate'].items(): assert a == spread(r[k] for r in sp['runs'] if k in r), k

def test_quickstart_rows_print_the_spread_over_seeds_and_over_reruns_of_command_1():
    sp = json.loads((ROOT/'data'/'results'/'quickstart_spread.json').read_text())
    assert sp['n_runs'] >= 3 and sorted(sp['seeds']) == list(range(sp['n_runs']))
    _check_aggregate(sp)
    for r in sp['runs']:
        assert r['command'].startswith('l2s quickstart ') and r['command'].endswith(f"--seed {r['seed']}")
        assert r['run']['seed'] == r['seed'] and r['run']['git_sha']
    one = sp['command1']
    assert one['n_runs'] >= 3 and set(one['seeds']) == {0}
    _check_aggregate(one)
    assert all(r.get('command', '').startswith('l2s quickstart ') or r.get('source') for r in one['runs'])
    rows = [l for l in _readme_table().splitlines() if 'quickstart_spread.json' in l]
    for row, s, runs in zip(rows, (one, sp), (f"{one['n_runs']} runs", f"{sp['n_runs']} seeds")):
        a = s['aggregate']['stoi']
        assert f"STOI {a['mean']:.3f} ({a['min']:.3f}–{a['max']:.3f}, {runs})" in row

def test_multilingual_results_cover_six_languages_and_three_unseen_scripts():
    from l2s_nb.results import multilingual_table
    res = json.loads((ROOT/'data'/'results'/'multilingual_synthgrid.json').read_text())
    table, recipes = res['per_language'], res['settings']['recipes']
    assert {'multitask', 'vca_gan'} <= set(recipes)
    assert len(table) >= 6 and all({'oracle', 'baseline', *recipes} <= set(r) for r in table.values())
    for recipe in recipes:
        unseen = [l for l, r in table.items() if f'{recipe}_unseen' in r]
        # Latin, Cyrillic, Han at least
        assert len({'es', 'de', 'en'} & set(unseen)) and {'ru', 'cmn'} <= set(unseen)
    for r in table.values():
        # the same clips
        assert all(s['stoi']['n'] == r['oracle']['stoi']['n'] and 'cer' in s for s in r.values())
    assert any('multilingual_results.py collect' in c for c in res['commands'])
    rows = multilingual_table(res).splitlines()[2:]
    assert len(rows) == sum(len(r) for r in table.values()) and all(r.count('|') == 9 for r in rows)
