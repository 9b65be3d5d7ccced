"""The LipVoicer recipe through the command line: `l2s train --recipe lipvoicer` \
(two optimizers in one run), then
`l2s infer`, two-stage with `--lip_reader` or with `--text`, and refused without either."""
import torch
from fake_corpora import fake_cache
from l2s_nb.face import portrait_frames
from l2s_nb.recipes import build_recipe, load_recipe, read_checkpoint
from l2s_nb.video import write_video

torch.set_num_threads(1)


def test_lipvoicer_train_and_infer(tmp_path, cli, untrained_lip_reader):
    cache = fake_cache(tmp_path/'cache', n=4, frames=12)
    rel = tmp_path/'lv.pt'
    code, _, err = cli('train', cache, '--recipe', 'lipvoicer', '--preset', 'tiny',
                       '--run_dir', tmp_path/'run', '--steps', 2, '--batch_size', 2, '--warmup_steps', 1,
                       '--device', 'cpu', '--threads', 1, '--export', rel, '--set', 'sample_steps=4')
    assert code == 0, err
    assert set(read_checkpoint(tmp_path/'run'/'checkpoints'/'last.pt')['optimizers']) == {'main', 'asr'}
    model = load_recipe(rel)
    assert model.name == 'lipvoicer' and model.needs_text and model.step == 2 and model.cfg.sample_steps == 4

    video = write_video(tmp_path/'face.mp4', portrait_frames(30))
    code, _, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'said', '--text', 'clip zero')
    assert code == 0, err
    assert (tmp_path/'said'/'face.wav').exists() and (tmp_path/'said'/'face.txt').read_text() == 'clip zero\n'

    code, _, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'none')
    assert code == 2 and "recipe 'lipvoicer' speaks from the lips and a transcript" in err

    code, _, err = cli('infer', video, '--checkpoint', rel, '--out', tmp_path/'read',
                       '--lip_reader', untrained_lip_reader)
    assert code == 0, err
    # an untrained reader still reads GRID's grammar
    assert len((tmp_path/'read'/'face.txt').read_text().split()) == 6

def test_seeded_sampling_and_guidance():
    "The same seed samples the same mel; switching either guidance off changes it."
    torch.manual_seed(0)
    model = build_recipe('lipvoicer', 'tiny').eval()
    mouth, text = torch.rand(1, 5, 88, 88), 'bin'  # CTC aligns 3 characters with 5 frames
    a = model.generate(mouth, text=text)
    assert a.shape == (1, 80, 20) and torch.equal(a, model.generate(mouth, text=text))
    assert not torch.equal(a, model.generate(mouth, text=text, sample_seed=1))
    assert (a - model.generate(mouth, text=text, w_asr=0)).abs().mean() > 1e-4
    assert (a - model.generate(mouth, text=text, w_cfg=0)).abs().mean() > 1e-4
