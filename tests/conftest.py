import subprocess, sys
from pathlib import Path
import numpy as np, pytest

ROOT = Path(__file__).resolve().parents[1]

def l2s(*args, cwd=None):
    "Run the installed `l2s` console command; returns the CompletedProcess."
    exe = Path(sys.executable).parent/'l2s'
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)

@pytest.fixture
def talking_clip(tmp_path):
    ("A generated 3 s mp4 (96x96 gray) with a voiced sound track: a harmonic tone whose loudness follows "
     "a blinking square.")
    from l2s_nb.video import write_video
    rng = np.random.default_rng(0)
    opening = rng.random(75) > 0.5
    frames = np.stack([np.full((96, 96), 200 if o else 40, np.uint8) for o in opening])
    t = np.arange(48000)/16000
    wav = 0.3*np.repeat(opening, 640)*sum(np.sin(2*np.pi*120*k*t)/k for k in range(1, 10))
    return write_video(tmp_path/'clip.mp4', frames, audio=wav.astype(np.float32))

@pytest.fixture
def grid_root():
    "The shared GRID s1 folder; skips the test where it is absent."
    from l2s_nb.config import shared_data
    g = shared_data('grid')
    if g is None: pytest.skip('../shared/grid is absent')
    return g/'s1'

@pytest.fixture
def cli(capsys):
    "Run `l2s ARGS` in this process through the console command's entry point: `(exit code, stdout, stderr)`."
    from l2s_nb.cli import main
    def run(*args)->tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run

@pytest.fixture
def untrained_lip_reader(tmp_path):
    "A `tiny` lip reader checkpoint with random weights (it still reads GRID's six-slot grammar)."
    from l2s_nb.config import to_dict, AudioConfig, VideoConfig
    from l2s_nb.lip_reader import LipReader, tiny_config
    from l2s_nb.train import save_checkpoint
    reader = LipReader(tiny_config())
    return save_checkpoint(tmp_path/'reader.pt', dict(recipe='lip_reader', config=to_dict(reader.cfg), step=0,
                                                      metrics={}, audio=to_dict(AudioConfig()),
                                                      video=to_dict(VideoConfig()),
                                                      model=reader.state_dict()))
