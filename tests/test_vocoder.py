"""Issue 13, trained vocoders: both kinds take one GAN step through the trainer, \
a trained vocoder round-trips through
its checkpoint and `load_vocoder`, `l2s infer --vocoder CHECKPOINT` speaks with it, \
and a vocoder made for another mel
config is refused with both configs named. \
`l2s train-vocoder` trains one (and starts from one with --init), and
fine-tunes one on a lip-to-speech model's predicted mels, aligned with the recordings, \
refusing what doesn't fit."""
import json
from pathlib import Path
import numpy as np, pytest, torch
from fake_corpora import fake_cache
from l2s_nb.audio import load_audio, log_mel, save_audio
from l2s_nb.cache import CacheReader
from l2s_nb.cli import main
from l2s_nb.config import AudioConfig, VideoConfig, ConfigError, MediaNotFoundError, to_dict
from l2s_nb.corpora import read_manifest, save_manifest
from l2s_nb.face import portrait_frames
from l2s_nb.infer import speak
from l2s_nb.prep import fit_audio
from l2s_nb.recipes import CheckpointError, load_recipe, read_checkpoint
from l2s_nb.train import TrainConfig, Optimizers, read_log
from l2s_nb.video import write_video
from l2s_nb.vocoder import (VOCODER_PRESETS, VocoderGAN, NeuralVocoder, PredictedMelSegments, load_vocoder,
                            export_vocoder, train_vocoder)

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
    code = main(['infer', str(video), '--checkpoint', str(CKPT), '--out', str(out),
                 '--vocoder', str(vocoder_ckpt)])
    assert code == 0, capsys.readouterr().err
    s = json.loads((out/'infer_summary.json').read_text())
    assert len(s['done']) == 1 and Path(s['done'][0]['wav']).exists()
    code = main(['infer', str(video), '--checkpoint', str(CKPT), '--out', str(tmp_path/'o2'),
                 '--vocoder', 'wavenet'])
    assert code == 2 and "unknown vocoder 'wavenet'" in capsys.readouterr().err

def test_oracles_copy_synthesis_with_a_trained_vocoder(vocoder_ckpt, tmp_path, capsys):
    for k in range(2): save_audio(tmp_path/'ref'/f'r{k}.wav', tone(16000, 140.+20*k))
    code = main(['oracles', str(tmp_path/'ref'), str(tmp_path/'or'), '--vocoder', str(vocoder_ckpt)])
    assert code == 0, capsys.readouterr().err
    rep = json.loads((tmp_path/'or'/'oracles.json').read_text())
    assert rep['vocoder'] == str(vocoder_ckpt)
    assert sorted(p.name for p in (tmp_path/'or'/'gt_mel').iterdir()) == ['r0.wav', 'r1.wav']

def _tones(folder, n=3):
    for k in range(n): save_audio(folder/f'c{k}.wav', tone(6000, 120.+30*k))
    return folder

def test_train_vocoder_cli_and_init(tmp_path, capsys):
    ("`l2s train-vocoder`: 2 steps of `istft_tiny` on three tones, exported; "
     "a second run starts from it with --init.")
    audio = _tones(tmp_path/'audio')
    (tmp_path/'split.tsv').write_text('id\tsplit\nc0\ttrain\nc1\ttrain\nc2\tval\n')
    common = ['--batch_size', '2', '--device', 'cpu', '--threads', '1', '--log_every', '1']
    code = main(['train-vocoder', str(audio), '--run_dir', str(tmp_path/'run'), '--preset', 'istft_tiny',
                 '--split', str(tmp_path/'split.tsv'), '--steps', '2', '--export', str(tmp_path/'voc.pt'),
                 *common])
    assert code == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out['step'] == 2 and out['export'] == str(tmp_path/'voc.pt') and 'loss' in out['metrics']
    voc = load_vocoder(tmp_path/'voc.pt')
    assert (voc.vcfg == VOCODER_PRESETS['istft_tiny']() and voc.step == 2
            and voc(batch()['mel']).shape == (2, 1280))
    # --init without --preset: the trained vocoder's config and weights
    # (a vanishing lr keeps them where they were)
    init = tmp_path/'run'/'checkpoints'/'last.pt'
    code = main(['train-vocoder', str(audio), '--run_dir', str(tmp_path/'ft'), '--init', str(init),
                 '--steps', '1', '--lr', '1e-12', *common])
    assert code == 0, capsys.readouterr().err
    a, b = read_checkpoint(init)['model'], read_checkpoint(tmp_path/'ft'/'checkpoints'/'last.pt')['model']
    assert read_checkpoint(tmp_path/'ft'/'vocoder.pt')['config'] == to_dict(VOCODER_PRESETS['istft_tiny']())
    for k in a: torch.testing.assert_close(b[k], a[k], atol=1e-6, rtol=0)
    capsys.readouterr()
    for args, msg in [(['--run_dir', str(tmp_path/'typo'), '--resume'], 'has no checkpoint to resume'),
                      (['--run_dir', str(tmp_path/'run')], 'already holds a training run'),
                      (['--init', str(CKPT)],
                       "checkpoint is recipe 'multitask'; --init takes a trained vocoder's"),
                      (['--mels_from', str(CKPT), '--cache', str(tmp_path)], '--mels_from needs --cache'),
                      (['--mels_from', str(CKPT), '--split', str(tmp_path/'split.tsv')],
                       '--split selects files')]:
        assert main(['train-vocoder', str(audio), '--run_dir', str(tmp_path/'x'), *args, *common]) == 2, args
        assert msg in capsys.readouterr().err, args

@pytest.fixture
def clips(tmp_path):
    ("A 3-clip prep cache (c0 val, c1 and c2 train; 20 frames) and the manifest-layout corpus "
     "of its recordings.")
    return fake_cache(tmp_path/'cache', n=3, frames=20, corpus=tmp_path/'corpus'), tmp_path/'corpus'

def test_predicted_mel_segments_are_aligned(clips):
    ("Predicted mel frames [s, s+n) of a clip come with samples [s*hop, (s+n)*hop) of its recording "
     "and their mel.")
    cache, corpus = clips
    ds = PredictedMelSegments(cache, corpus, 'manifest', CKPT, segment=16, seed=3)
    model, reader = load_recipe(CKPT), CacheReader(cache)
    rows = [r for r in reader.rows if r['split'] == 'train']
    assert len(ds) == len(rows) == 2 and ds.keys == ['s1/c1', 's1/c2']
    for i, row in enumerate(rows):
        rec, s, item = reader.load(row), ds.start(i), ds[i]
        assert ({k: tuple(v.shape) for k, v in item.items()}
                == dict(wav=(2560,), mel=(80, 16), real_mel=(80, 16)))
        pred = speak(model, rec['mouth'], video=model.video)
        assert pred.shape == (80, 80)
        torch.testing.assert_close(item['mel'], pred[:, s:s+16].half().float())
        rec_path = corpus/'audio'/f"{row['id']}.wav"
        wav = fit_audio(load_audio(rec_path), 20, AudioConfig(), VideoConfig(), 0.2, rec_path)
        assert torch.equal(item['wav'], torch.from_numpy(wav[s*160:(s+16)*160]))
        torch.testing.assert_close(item['real_mel'], log_mel(item['wav']))
        # away from the segment's edges its real mel is the clip's cached mel at frames s+2 .. s+13
        cached = torch.from_numpy(rec['mel'][:, s+2:s+14].astype(np.float32))
        torch.testing.assert_close(item['real_mel'][:, 2:14], cached, atol=0.03, rtol=0)
    assert {ds.set_epoch(e) or ds.start(0) for e in range(8)} != {ds.start(0)}

def test_fine_tune_step_on_predicted_mels(clips, tmp_path, capsys):
    "`l2s train-vocoder CORPUS --init V --mels_from L2S --cache C --layout manifest`: one step through `fit`."
    cache, corpus = clips
    common = ['--batch_size', '2', '--device', 'cpu', '--threads', '1', '--log_every', '1']
    assert main(['train-vocoder', str(corpus/'audio'), '--run_dir', str(tmp_path/'voc'),
                 '--preset', 'istft_tiny', '--steps', '1', *common]) == 0, capsys.readouterr().err
    ft = tmp_path/'ft'
    init = tmp_path/'voc'/'checkpoints'/'last.pt'
    code = main(['train-vocoder', str(corpus), '--run_dir', str(ft), '--init', str(init),
                 '--mels_from', str(CKPT), '--cache', str(cache), '--layout', 'manifest',
                 '--steps', '1', *common])
    assert code == 0, capsys.readouterr().err
    row, val = read_log(ft)[-1], read_log(ft, 'val')[-1]
    assert row['step'] == 1 and all(np.isfinite(row[k]) for k in ('mel', 'adv', 'fm', 'disc'))
    assert sorted(p.name for p in (ft/'predicted_mels').iterdir()) == ['train.pt', 'val.pt']
    # validation fed the generator the predicted mel and compared with the real one
    gan = VocoderGAN(VOCODER_PRESETS['istft_tiny']())
    gan.load_state_dict(read_checkpoint(ft/'checkpoints'/'last.pt')['model'])
    item = PredictedMelSegments(cache, corpus, 'manifest', CKPT, 'val', segment=8, train=False,
                                mel_file=ft/'predicted_mels'/'val.pt', device='meta')[0]
    with torch.no_grad():
        loss = gan.loss({k: v[None] for k, v in item.items()}, gan({'mel': item['mel'][None]}))[0]
    assert abs(loss.item() - val['loss']) < 1e-4
    assert load_vocoder(ft/'vocoder.pt').vcfg == VOCODER_PRESETS['istft_tiny']()

def test_fine_tuning_refuses_mismatched_inputs(clips, tmp_path, capsys):
    ("A lip-to-speech checkpoint made for another mel config (both named), a vocoder as --mels_from, "
     "recordings\n"
     "    that don't belong to the cache's clips, and missing ones.")
    cache, corpus = clips
    make = lambda ckpt=CKPT: PredictedMelSegments(cache, corpus, 'manifest', ckpt, device='meta')
    ck = torch.load(CKPT, weights_only=True); ck['audio']['n_mels'] = 64; torch.save(ck, tmp_path/'m64.pt')
    code = main(['train-vocoder', str(corpus), '--run_dir', str(tmp_path/'r'),
                 '--mels_from', str(tmp_path/'m64.pt'), '--cache', str(cache), '--layout', 'manifest',
                 '--device', 'cpu'])
    err = capsys.readouterr().err
    assert code == 2 and f"lip-to-speech checkpoint {tmp_path/'m64.pt'}: its mel config" in err
    assert str(AudioConfig(n_mels=64)) in err and f"differs from the vocoder's {AudioConfig()}" in err
    assert 'n_mels: lip-to-speech 64, vocoder 80' in err
    vck = tmp_path/'v.pt'
    torch.save(dict(recipe='vocoder', config=to_dict(VOCODER_PRESETS['istft_tiny']()),
                    audio=to_dict(AudioConfig()), video={}, step=0, metrics={}, model={}), vck)
    with pytest.raises(CheckpointError, match='is a vocoder'): make(vck)
    with pytest.raises(ConfigError, match="no clips in split 'test'"):
        PredictedMelSegments(cache, corpus, 'manifest', CKPT, 'test')
    c1, c2 = (corpus/'audio'/f'c{k}.wav' for k in (1, 2))
    w1, w2 = load_audio(c1), load_audio(c2)
    save_audio(c1, w2); save_audio(c2, w1)  # the recordings swapped: right lengths, wrong sounds
    with pytest.raises(ConfigError, match='the cached mel of clip s1/c1 is not the mel of its recording'):
        make()
    save_audio(c1, w1[:len(w1)//2])
    with pytest.raises(ConfigError,
                       match=r'clip s1/c1 is 0\.800 s long but its recording .*c1\.wav is 0\.400 s'):
        make()
    c1.unlink()
    with pytest.raises(MediaNotFoundError,
                       match=f'c1.wav: recording of clip s1/c1 of cache {cache} not found'):
        make()
    save_manifest([c for c in read_manifest(corpus) if c.id != 'c1'], corpus/'manifest.tsv')
    with pytest.raises(ConfigError, match='the manifest corpus has no clip s1/c1 of cache'): make()
