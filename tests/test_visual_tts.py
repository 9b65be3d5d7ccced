"""The visual TTS recipe through the command line: `l2s train --recipe visual_tts`, \
then `l2s infer` with `--text`,
with `--lip_reader`, and without either (an error naming both)."""
import sys
from pathlib import Path
import torch
from conftest import ROOT
from fake_corpora import fake_cache
from l2s_nb.face import portrait_frames
from l2s_nb.recipes import build_recipe, load_recipe
from l2s_nb.video import write_video

torch.set_num_threads(1)


def test_visual_tts_train_and_infer(tmp_path, cli, untrained_lip_reader):
    cache = fake_cache(tmp_path/'cache', n=4, frames=12)
    rel = tmp_path/'tts.pt'
    code, _, err = cli('train', cache, '--recipe', 'visual_tts', '--preset', 'tiny',
                       '--run_dir', tmp_path/'run', '--steps', 2, '--batch_size', 2, '--warmup_steps', 1,
                       '--device', 'cpu', '--threads', 1, '--export', rel)
    assert code == 0, err
    model = load_recipe(rel)
    assert model.name == 'visual_tts' and model.needs_text and model.step == 2

    video = write_video(tmp_path/'face.mp4', portrait_frames(30))
    code, out, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'said', '--text', 'clip zero')
    assert code == 0, err
    assert (tmp_path/'said'/'face.wav').exists() and (tmp_path/'said'/'face.txt').read_text() == 'clip zero\n'

    code, _, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'none')
    assert code == 2 and "recipe 'visual_tts' speaks from the lips and a transcript" in err
    assert '--text' in err and '--lip_reader' in err and not (tmp_path/'none').exists()

    code, _, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'read',
                       '--lip_reader', untrained_lip_reader)
    assert code == 0, err
    # an untrained reader still reads GRID's grammar
    assert len((tmp_path/'read'/'face.txt').read_text().split()) == 6
    code, _, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'x', '--lip_reader', rel)
    assert code == 2 and "checkpoint is recipe 'visual_tts', expected 'lip_reader'" in err

def test_text_changes_the_speech():
    "Same lips, other words: other speech (and the same words give the same speech)."
    torch.manual_seed(0)
    model = build_recipe('visual_tts', 'tiny').eval()
    mouth = torch.rand(1, 20, 88, 88)
    a, b = (model.generate(mouth, text='bin blue at f two now'),
            model.generate(mouth, text='set red by q nine again'))
    assert a.shape == (1, 80, 80) and (a - b).abs().mean() > 1e-3
    assert torch.equal(a, model.generate(mouth, text='bin blue at f two now'))

def test_scoring_texts():
    "The texts `tools/score_checkpoints.py` gives a text-guided model: its own, the next clip's, or none."
    sys.path.insert(0, str(ROOT/'tools'))
    from score_checkpoints import given_texts
    t = {'a': 'bin blue', 'b': 'lay red', 'c': 'set green'}
    assert given_texts('truth', t) == t
    assert given_texts('other', t) == {'a': 'lay red', 'b': 'set green', 'c': 'bin blue'}
    assert given_texts('none', t) == {'a': '', 'b': '', 'c': ''}
