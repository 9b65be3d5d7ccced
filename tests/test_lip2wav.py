"Lip2Wav's output length is tied to the video: a minute of video in bounded windows, and a stop token that cannot matter."
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
    monkeypatch.setattr(model, 'decode', lambda f, l, g=None: calls.append(tuple(f.shape[:2])) or decode(f, l, g))
    mel = model.generate(torch.rand(1, 1500, 88, 88), torch.tensor([1500]), batch_windows=8)
    assert mel.shape == (1, 80, 6000) and torch.isfinite(mel).all() and (mel > FLOOR).any(-2).all()
    assert max(n for _, n in calls) <= model.cfg.window and max(b for b, _ in calls) <= 8
    assert sum(b for b, _ in calls) == len(window_spans(1500, model.cfg.window, model.cfg.overlap))

def test_stop_token_cannot_change_length(model):
    "A stop head that always fires, or never does, leaves the mel (and its length) unchanged."
    face, vlen = torch.rand(2, 90, 88, 88), torch.tensor([90, 41])
    face[1, 41:] = 0
    ref = model.generate(face, vlen)
    assert ref.shape == (2, 80, 360) and (ref[1, :, 164:] == FLOOR).all() and (ref[1, :, :164] > FLOOR).any(0).all()
    bias = model.decoder.stop.bias.detach().clone()
    try:
        for b in (100., -100.):
            with torch.no_grad(): model.decoder.stop.bias.fill_(b)
            assert torch.equal(model.generate(face, vlen), ref)
            stop = model.decode(face[:1, :30], vlen[:1].clamp(max=30))['stop']
            assert stop.shape == (1, 120) and ((stop > 0.5).all() if b > 0 else (stop < 0.5).all())
    finally:
        with torch.no_grad(): model.decoder.stop.bias.copy_(bias)

@pytest.mark.parametrize('n', [1, 5, 74, 75, 76, 151, 333])
def test_length_is_four_per_frame(model, n):
    assert model.generate(torch.rand(1, n, 88, 88)).shape == (1, 80, 4*n)
