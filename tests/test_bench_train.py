("The GPU training benchmark's CPU dry run: every measurement runs and lands in the JSON "
 "(the real run needs a GPU machine).")
import json, sys
from conftest import ROOT
from fake_corpora import fake_cache
from l2s_nb.cache import pack
sys.path.insert(0, str(ROOT/'tools'))
import bench_train_gpu

def test_dry_run_writes_every_measurement(tmp_path):
    pack(fake_cache(tmp_path/'v1', n=5, frames=8), tmp_path/'v2', workers=0)
    res = bench_train_gpu.main(['--dry-run', '--cache', str(tmp_path/'v2'),
                                '--out', str(tmp_path/'speed.json'), '--trace', str(tmp_path/'trace.json')])
    assert json.loads((tmp_path/'speed.json').read_text()) == res and (tmp_path/'trace.json').exists()
    assert (res['preset'], res['device']) == ('tiny', 'cpu')
    assert res['model_only']['ms_per_step'] > 0 and res['model_only_sync_every_step']['steps'] == 2
    assert (res['profile_top_ops'] and res['loader']['clips_per_second'] > 0
            and res['loader_and_model']['batches'] == 2)
