"The `l2s` console command: help, each foundation subcommand, and its bad-input behaviour."
import json
from pathlib import Path
import numpy as np
from conftest import l2s
from l2s_nb.audio import load_audio, save_audio

def test_help_lists_commands():
    r = l2s('--help')
    assert r.returncode == 0
    for cmd in ('quickstart', 'info', 'resynth', 'synthgrid', 'prep', 'train', 'infer', 'score', 'oracles',
                'train-judge', 'score-judge', 'train-vocoder'):
        assert f'  {cmd}' in r.stdout

def test_subcommand_help():
    r = l2s('resynth', '--help')
    assert r.returncode == 0 and '--n_iter' in r.stdout

def test_unknown_command_fails():
    r = l2s('frobnicate')
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr

def test_info(talking_clip):
    r = l2s('info', talking_clip)
    assert r.returncode == 0
    assert 'video 96x96 25 fps, 75 frames, audio 16000 Hz x1' in r.stdout

def test_resynth(talking_clip, tmp_path):
    r = l2s('resynth', talking_clip, tmp_path/'out.wav', '--n_iter', '8')
    assert r.returncode == 0, r.stderr
    assert abs(len(load_audio(tmp_path/'out.wav')) - 48000) < 320

def test_quickstart_miniature(tmp_path):
    r = l2s('quickstart', tmp_path/'qs', '--clips', 24, '--steps', 3)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path/'qs'/'results.json').read_text())
    assert res['config']['steps'] == 3 and res['run']['seed'] == 0
    assert 'Griffin-Lim oracle' in r.stdout and (tmp_path/'qs'/'demo'/Path(res['demo']['mp4']).name).exists()

def test_bad_inputs_give_one_line_errors(tmp_path):
    (tmp_path/'junk.mp4').write_bytes(b'\0junk' * 100)
    save_audio(tmp_path/'a.wav', np.zeros(16000, np.float32))
    (tmp_path/'empty.wav').touch()
    cases = [(('info', tmp_path/'missing.mp4'), 'missing.mp4: file not found'),
             (('info', tmp_path/'junk.mp4'), 'junk.mp4: not a readable audio or video file'),
             (('resynth', tmp_path/'empty.wav', tmp_path/'o.wav'), 'empty.wav: is empty (0 bytes)')]
    for args, msg in cases:
        r = l2s(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr and 'Traceback' not in r.stderr

def test_info_on_grid(grid_root):
    clip = sorted((grid_root/'video').glob('*.mp4'))[0]
    r = l2s('info', clip, grid_root/'audio'/f'{clip.stem}.flac')
    assert r.returncode == 0
    assert 'video 360x288 25 fps' in r.stdout and 'audio 16000 Hz x1' in r.stdout
