("Lip2Wav's output length is tied to the video: a minute of video in bounded windows, "
 "and a stop token that cannot matter.")
import math
import pytest, torch
from l2s_nb.lip2wav import Lip2Wav, tiny_config, window_spans

torch.set_num_threads(1)
FLOOR = math.log(1e-5)

@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return Lip2Wav(tiny_config()).eval()

def test_minute_of_video(model, monkeypatch):
    "1500 frames (60 s at 25 fps) give exactly 6000 mel frames, decoded in windows of at most 3 s."
    calls, decode = [], model.decode
    monkeypatch.setattr(model, 'decode',
                        lambda f, l, g=None: calls.append(tuple(f.shape[:2])) or decode(f, l, g))
    mel = model.generate(torch.rand(1, 1500, 88, 88), torch.tensor([1500]), batch_windows=8)
    assert mel.shape == (1, 80, 6000) and torch.isfinite(mel).all() and (mel > FLOOR).any(-2).all()
    assert max(n for _, n in calls) <= model.cfg.window and max(b for b, _ in calls) <= 8
    assert sum(b for b, _ in calls) == len(window_spans(1500, model.cfg.window, model.cfg.overlap))

def test_stop_token_cannot_change_length(model):
    "A stop head that always fires, or never does, leaves the mel (and its length) unchanged."
    face, vlen = torch.rand(2, 90, 88, 88), torch.tensor([90, 41])
    face[1, 41:] = 0
    ref = model.generate(face, vlen)
    assert (ref.shape == (2, 80, 360) and (ref[1, :, 164:] == FLOOR).all()
            and (ref[1, :, :164] > FLOOR).any(0).all())
    bias = model.decoder.stop.bias.detach().clone()
    try:
        for b in (100., -100.):
            with torch.no_grad(): model.decoder.stop.bias.fill_(b)
            assert torch.equal(model.generate(face, vlen), ref)
            stop = model.decode(face[:1, :30], vlen[:1].clamp(max=30))['stop']
            assert stop.shape == (1, 120) and ((stop > 0.5).all() if b > 0 else (stop < 0.5).all())
    finally:
        with torch.no_grad(): model.decoder.stop.bias.copy_(bias)

def test_infer_minute_of_synthgrid(model, tmp_path):
    ("`infer` speaks a 60 s video (SynthGRID clips end to end) with a Lip2Wav checkpoint: "
     "exactly 60 s of speech.")
    import numpy as np
    from l2s_nb.audio import load_audio
    from l2s_nb.config import AudioConfig, VideoConfig, to_dict
    from l2s_nb.infer import infer
    from l2s_nb.synthgrid import synthgrid
    from l2s_nb.train import save_checkpoint
    from l2s_nb.video import _ffmpeg, probe
    synthgrid(tmp_path/'sg', clips=4, speakers=1, seed=0, workers=1, progress=False)
    spk = tmp_path/'sg'/'s1'
    order = sorted(p.stem for p in (spk/'video').iterdir())*5  # 20 clips of 3 s
    (tmp_path/'list.txt').write_text(''.join(f"file '{spk/'video'/s}.mp4'\n" for s in order))
    (tmp_path/'long').mkdir()
    _ffmpeg(['-f', 'concat', '-safe', '0', '-i', tmp_path/'list.txt', '-c', 'copy',
             tmp_path/'long'/'minute.mp4'])
    assert abs(probe(tmp_path/'long'/'minute.mp4').duration - 60) < 0.05
    ckpt = save_checkpoint(tmp_path/'l2w.pt', dict(recipe='lip2wav', config=to_dict(model.cfg), step=0,
                                                   metrics={}, audio=to_dict(AudioConfig()),
                                                   video=to_dict(VideoConfig(region='face')),
                                                   model=model.state_dict()))
    infer(tmp_path/'long', ckpt, tmp_path/'out')  # the face tracker finds the cartoon face
    wav = load_audio(tmp_path/'out'/'minute.wav', 16000)
    assert len(wav) == 60*16000 and np.isfinite(wav).all()

@pytest.mark.parametrize('n', [1, 5, 74, 75, 76, 151, 333])
def test_length_is_four_per_frame(model, n):
    assert model.generate(torch.rand(1, n, 88, 88)).shape == (1, 80, 4*n)
