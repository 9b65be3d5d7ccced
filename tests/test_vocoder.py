"""Issue 13, trained vocoders: both kinds take one GAN step through the trainer, a trained vocoder round-trips through
its checkpoint and `load_vocoder`, `l2s infer --vocoder CHECKPOINT` speaks with it, and a vocoder made for another mel
config is refused with both configs named."""
import json
from pathlib import Path
import numpy as np, pytest, torch
from l2s_nb.audio import log_mel, save_audio
from l2s_nb.cli import main
from l2s_nb.config import AudioConfig, ConfigError, to_dict
from l2s_nb.face import portrait_frames
from l2s_nb.train import TrainConfig, Optimizers
from l2s_nb.video import write_video
from l2s_nb.vocoder import VOCODER_PRESETS, VocoderGAN, NeuralVocoder, load_vocoder, export_vocoder, train_vocoder

torch.set_num_threads(1)
CKPT = Path(__file__).resolve().parents[1]/'data'/'checkpoints'/'multitask_tiny_synthgrid.pt'

def tone(n=4800, f0=150.):
    t = np.arange(n)/16000
    return (0.2*sum(np.sin(2*np.pi*f0*k*t)/k for k in (1, 2, 3))).astype(np.float32)

def batch(n=2, frames=8):
    wav = torch.from_numpy(tone(n*frames*160)).view(n, -1)
    return dict(wav=wav, mel=log_mel(wav))

@pytest.mark.parametrize('preset', ['istft_tiny', 'hifigan_tiny'])
def test_one_gan_step_moves_generator_and_discriminators(preset):
    torch.manual_seed(0); gan = VocoderGAN(VocoderGAN.config_from(preset))
    b = batch()
    assert gan(b)['wav'].shape == b['wav'].shape
    opts = Optimizers(gan.configure_optimizers(TrainConfig(steps=1, device='cpu')))
    before = {k: [p.detach().clone() for p in ps] for k, ps in opts.params.items()}
    logs = gan.training_step(b, 0, opts)
    assert set(logs) == {'loss', 'mel', 'adv', 'fm', 'disc'} and all(np.isfinite(v) for v in logs.values())
    for k, ps in opts.params.items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], ps)), k

@pytest.fixture(scope='module')
def vocoder_ckpt(tmp_path_factory):
    "An fp16 `istft_tiny` vocoder trained for 2 steps by `train_vocoder` on three tones."
    d = tmp_path_factory.mktemp('voc')
    for k in range(3): save_audio(d/'audio'/f'c{k}.wav', tone(6000, 120.+30*k))
    (d/'split.tsv').write_text('id\tsplit\nc0\ttrain\nc1\ttrain\nc2\tval\n')
    tcfg = TrainConfig(steps=2, batch_size=2, warmup_steps=1, log_every=1, device='cpu')
    return train_vocoder(d/'audio', d/'run', 'istft_tiny', d/'split.tsv', tcfg)

def test_save_load_round_trip(vocoder_ckpt, tmp_path):
    voc = load_vocoder(vocoder_ckpt)
    assert isinstance(voc, NeuralVocoder) and voc.vcfg == VOCODER_PRESETS['istft_tiny']() and voc.step == 2
    mel = batch()['mel']
    assert voc(mel).shape == (2, 8*160) and torch.equal(voc(mel), load_vocoder(str(vocoder_ckpt))(mel))
    full = load_vocoder(vocoder_ckpt.parent/'checkpoints'/'last.pt')  # the training checkpoint, in fp32
    torch.testing.assert_close(full(mel), voc(mel), atol=2e-2, rtol=0)
    again = export_vocoder(vocoder_ckpt.parent/'checkpoints'/'last.pt', tmp_path/'again.pt')
    assert torch.equal(load_vocoder(again)(mel), voc(mel))

def test_mel_config_mismatch_names_both_configs(vocoder_ckpt):
    other = AudioConfig(n_mels=64)
    with pytest.raises(ConfigError) as e: load_vocoder(vocoder_ckpt, other)
    msg = str(e.value)
    assert str(vocoder_ckpt) in msg and 'n_mels: vocoder 80, model 64' in msg
    assert str(AudioConfig()) in msg and str(other) in msg

def test_bad_vocoder_names(tmp_path):
    with pytest.raises(ConfigError, match="unknown vocoder 'wavenet'"): load_vocoder('wavenet')
    with pytest.raises(ConfigError, match="'istft' must be trained first"): load_vocoder('istft')
    with pytest.raises(ConfigError, match='checkpoint not found'): load_vocoder(tmp_path/'none.pt')
    with pytest.raises(ConfigError, match="kind must be one of"): VocoderGAN.config_from(dict(kind='wavenet'))

def test_infer_with_a_trained_vocoder(vocoder_ckpt, tmp_path, capsys):
    video = write_video(tmp_path/'talk.mp4', portrait_frames(10), audio=tone(6400))
    out = tmp_path/'out'
    code = main(['infer', str(video), '--checkpoint', str(CKPT), '--out', str(out), '--vocoder', str(vocoder_ckpt)])
    assert code == 0, capsys.readouterr().err
    s = json.loads((out/'infer_summary.json').read_text())
    assert len(s['done']) == 1 and Path(s['done'][0]['wav']).exists()
    code = main(['infer', str(video), '--checkpoint', str(CKPT), '--out', str(tmp_path/'o2'), '--vocoder', 'wavenet'])
    assert code == 2 and "unknown vocoder 'wavenet'" in capsys.readouterr().err

def test_oracles_copy_synthesis_with_a_trained_vocoder(vocoder_ckpt, tmp_path, capsys):
    for k in range(2): save_audio(tmp_path/'ref'/f'r{k}.wav', tone(16000, 140.+20*k))
    code = main(['oracles', str(tmp_path/'ref'), str(tmp_path/'or'), '--vocoder', str(vocoder_ckpt)])
    assert code == 0, capsys.readouterr().err
    rep = json.loads((tmp_path/'or'/'oracles.json').read_text())
    assert rep['vocoder'] == str(vocoder_ckpt)
    assert sorted(p.name for p in (tmp_path/'or'/'gt_mel').iterdir()) == ['r0.wav', 'r1.wav']
