"""The lip reader through the command line: `l2s train --recipe lip_reader` from a multitask checkpoint,
`l2s score-lipread`, `l2s lipread`, and `l2s infer` refusing a model that makes no speech."""
import json
from pathlib import Path
import torch
from conftest import l2s, ROOT
from fake_corpora import fake_cache
from l2s_nb.face import portrait_frames
from l2s_nb.recipes import load_recipe, read_checkpoint
from l2s_nb.video import write_video

def test_lip_reader_cli(tmp_path):
    cache = fake_cache(tmp_path/'cache', n=5, frames=20)
    init = ROOT/'data'/'checkpoints'/'multitask_tiny_synthgrid.pt'
    rel = tmp_path/'reader.pt'
    r = l2s('train', cache, '--recipe', 'lip_reader', '--preset', 'tiny', '--set', f'init_from={init}',
            '--run_dir', tmp_path/'run', '--steps', 2, '--batch_size', 2, '--warmup_steps', 1,
            '--device', 'cpu', '--threads', 1, '--export', rel)
    assert r.returncode == 0, r.stderr
    # the multitask front-end, projection, encoder and CTC head
    assert 'initialised 136 of 136 tensors' in r.stderr
    ck = read_checkpoint(rel)
    assert ck['recipe'] == 'lip_reader' and next(iter(ck['model'].values())).dtype == torch.float16
    assert load_recipe(rel).cfg.init_from == str(init)

    r = l2s('score-lipread', cache, '--checkpoint', rel, '--decodes', 'greedy,free,grammar',
            '--out', tmp_path/'s.json')
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path/'s.json').read_text())
    assert res['n'] == 1 and set(res['scores']) == {'greedy', 'free', 'grammar'}
    assert res['clips'][0]['text'] == 'clip 0'
    assert 'WER' in r.stdout

    video = write_video(tmp_path/'face.mp4', portrait_frames(30))
    r = l2s('lipread', video, '--checkpoint', rel, '--decode', 'free')
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f'{video}\t') and len(r.stdout.splitlines()) == 1

    r = l2s('infer', video, '--checkpoint', rel, '--out', tmp_path/'spoken')
    assert r.returncode == 2 and "recipe 'lip_reader' makes no speech" in r.stderr
    assert 'Traceback' not in r.stderr
    r = l2s('lipread', video, '--checkpoint', init)
    assert r.returncode == 2 and "checkpoint is recipe 'multitask', expected 'lip_reader'" in r.stderr
