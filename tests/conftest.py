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
    "A generated 3 s mp4 with a voiced sound track."
    from l2s_nb.quickstart import demo_clip
    from l2s_nb.video import write_video
    frames, wav = demo_clip()
    return write_video(tmp_path/'clip.mp4', frames, audio=wav)

@pytest.fixture
def grid_root():
    "The shared GRID s1 folder; skips the test where it is absent."
    from l2s_nb.config import shared_data
    g = shared_data('grid')
    if g is None: pytest.skip('../shared/grid is absent')
    return g/'s1'
