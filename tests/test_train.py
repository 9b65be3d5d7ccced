"""Trainer integration tests: resume equality (also after kill -9, with two optimizers), NaN handling, \
wrong checkpoints,
DDP (gloo, 2 CPU processes, two optimizers), CLI."""
import math, os, signal, subprocess, sys, textwrap
from pathlib import Path
import pytest, torch
from torch.utils.data import Dataset
from fastcore.script import anno_parser
from l2s_nb.config import ConfigError
from l2s_nb.recipes import build_recipe, load_recipe, read_checkpoint, CheckpointError
from l2s_nb.text import CharTokenizer
from l2s_nb.train import (TrainConfig, fit, read_log, train_cli, export_release, model_config_for,
                          TrainingDivergedError, evaluate, trained_weights, init_weights)

LOG_FLOOR = math.log(1e-5)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TOK = CharTokenizer()

class ToyLipData(Dataset):
    ("In-memory clips whose mouth opening drives the mel energy (learnable, deterministic per seed); "
     "`nan_ids` poisons mels.")
    def __init__(self, n=12, T=8, seed=0, nan_ids=()):
        g = torch.Generator().manual_seed(seed)
        yy,xx = torch.meshgrid(torch.linspace(-1, 1, 88), torch.linspace(-1, 1, 88), indexing='ij')
        self.items = []
        for i in range(n):
            t = int(torch.randint(T//2, T+1, (1,), generator=g))
            opening = torch.rand(t, generator=g)
            mouth = ((xx**2 + (yy/(0.1+opening[:, None, None]))**2) < 0.3).float()
            mel = opening.repeat_interleave(4)[None] * torch.linspace(6, 1, 80)[:, None] - 9
            if i in nan_ids: mel[0, 0] = float('nan')
            text = ''.join(LETTERS[j] for j in torch.randint(0, 26, (t//2,), generator=g))
            self.items.append(dict(mouth=mouth, mel=mel, text=text, tokens=torch.tensor(TOK.encode(text)),
                                   speaker=i%2, id=f'toy{i}'))
        self.epoch, self.speakers = 0, ['even', 'odd']
    def __len__(self): return len(self.items)
    def lengths(self): return [len(it['mouth']) for it in self.items]
    def set_epoch(self, epoch): self.epoch = epoch
    def __getitem__(self, i):
        ("The clip with epoch-seeded pixel noise (augmentation that must also replay identically "
         "after a resume).")
        it = self.items[i]; g = torch.Generator().manual_seed(self.epoch*10_000 + i)
        return {**it, 'mouth': (it['mouth'] + 0.05*torch.rand(it['mouth'].shape, generator=g)).clamp(0, 1)}

def collate(items):
    "Pad a list of toy items into the documented batch dict."
    B,T,L = len(items),max(len(it['mouth']) for it in items),max(len(it['tokens']) for it in items)
    b = dict(mouth=torch.zeros(B, T, 88, 88), mel=torch.full((B, 80, 4*T), LOG_FLOOR),
             tokens=torch.zeros(B, L, dtype=torch.long),
             video_len=torch.tensor([len(it['mouth']) for it in items]),
             token_len=torch.tensor([len(it['tokens']) for it in items]),
             speaker=torch.tensor([it['speaker'] for it in items]), text=[it['text'] for it in items],
             id=[it['id'] for it in items])
    for i,it in enumerate(items):
        t = len(it['mouth']); b['mouth'][i, :t] = it['mouth']; b['mel'][i, :, :4*t] = it['mel']
        b['tokens'][i, :len(it['tokens'])] = it['tokens']
    b['mel_len'] = 4*b['video_len']
    return b

MICRO = dict(d_model=16, heads=2, enc_layers=1, ff_mult=2, conv_kernel=3, dec_channels=16, dec_layers=1,
             postnet_channels=16, postnet_layers=2,
             frontend=dict(stem_channels=4, widths=[4, 8], blocks=[1, 1], downsample=4))

# the multitask adversarial option, micro-sized
GAN = dict(w_adv=0.1, disc_scales=2, disc_channels=4, disc_layers=2, disc_segment=8)

def micro_model(seed=0, weights=None, **kw):
    "The micro multitask model, seeded, or holding `weights`."
    torch.manual_seed(seed)
    model = build_recipe('multitask', model_config_for('multitask', 'tiny', {**MICRO, **kw}))
    if weights is not None: model.load_state_dict(weights)
    return model

def toy_factory(data):
    "Data factory for the CLI: `data` is the number of training clips."
    return ToyLipData(int(data)), ToyLipData(4, seed=1), collate

CFG = dict(steps=6, batch_size=2, lr=3e-3, warmup_steps=2, log_every=1, val_every=3, ckpt_every=3,
           device='cpu')

def train_losses(run_dir): return [(r['step'], r['loss'], r['mel'], r['ctc']) for r in read_log(run_dir)]

@pytest.mark.parametrize('workers', [0, 2])
def test_resume_gives_identical_curve(tmp_path, workers):
    # 8 clips, batch 2: 4 steps per epoch, so the 6-step run crosses an epoch boundary
    # after the restart at step 3
    cfg = TrainConfig(**CFG, num_workers=workers)
    fit(micro_model(), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'a', collate)
    fit(micro_model(), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'b', collate, stop_at=3)
    assert read_checkpoint(tmp_path/'b/checkpoints/last.pt')['step'] == 3
    fit(micro_model(seed=1), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'b', collate, resume=True)
    a,b = train_losses(tmp_path/'a'),train_losses(tmp_path/'b')
    assert [s for s,*_ in a] == list(range(1, 7)) and a == b  # bit-identical losses, no duplicated steps
    assert a[-1][1] < a[0][1]  # and it learns
    sa,sb = (read_checkpoint(tmp_path/f'{r}/checkpoints/last.pt')['model'] for r in 'ab')
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert read_log(tmp_path/'a', 'val') == read_log(tmp_path/'b', 'val')

def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = TrainConfig(**CFG)
    fit(micro_model(), ToyLipData(), None, cfg, tmp_path, collate, stop_at=3)
    last = tmp_path/'checkpoints/last.pt'; before = last.read_bytes()
    with pytest.raises(TrainingDivergedError, match=r"diverged at step 4: loss is nan.*"
                                                    r"last good checkpoint .*last.pt \(step 3\) is kept"):
        fit(micro_model(), ToyLipData(nan_ids=range(12)), None, cfg, tmp_path, collate, resume=True)
    assert last.read_bytes() == before
    with pytest.raises(TrainingDivergedError, match='no checkpoint was written yet'):
        fit(micro_model(), ToyLipData(nan_ids=range(12)), None, cfg, tmp_path/'fresh', collate)

def test_wrong_checkpoint_is_a_config_error(tmp_path):
    fit(micro_model(), ToyLipData(), None, TrainConfig(**{**CFG, 'steps': 2}), tmp_path, collate)
    with pytest.raises(ConfigError, match=r"model config differs \(d_model 16 → 8\)"):
        fit(micro_model(d_model=8), ToyLipData(), None, TrainConfig(**{**CFG, 'steps': 2}),
            tmp_path, collate, resume=True)
    with pytest.raises(ConfigError, match=r"training settings differ \(lr 0.003 → 0.1\)"):
        fit(micro_model(), ToyLipData(), None, TrainConfig(**{**CFG, 'steps': 2, 'lr': 0.1}),
            tmp_path, collate, resume=True)
    with pytest.raises(ConfigError, match='already holds a training run'):
        fit(micro_model(), ToyLipData(), None, TrainConfig(**{**CFG, 'steps': 2}), tmp_path, collate)
    last = tmp_path/'checkpoints/last.pt'
    with pytest.raises(ConfigError, match='conv_kernel: expected 5, found 3'):
        load_recipe(last, expected_config=model_config_for('multitask', 'tiny', {**MICRO, 'conv_kernel': 5}))
    ck = read_checkpoint(last); ck['model']['proj.0.weight'] = torch.zeros(3, 3)
    torch.save(ck, tmp_path/'tampered.pt')
    with pytest.raises(CheckpointError, match="weights do not fit recipe 'multitask'"):
        load_recipe(tmp_path/'tampered.pt')
    (tmp_path/'junk.pt').write_bytes(b'\x00'*64)
    with pytest.raises(CheckpointError, match='junk.pt: not a readable l2s_nb checkpoint'):
        load_recipe(tmp_path/'junk.pt')

def test_ema_resumes_exactly_and_is_what_is_validated_and_shipped(tmp_path):
    "With `ema`, validation scores the moving average, a resume continues it, and releases and --init use it."
    cfg = TrainConfig(**CFG, ema=0.9)
    fit(micro_model(), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'a', collate)
    fit(micro_model(), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'b', collate, stop_at=3)
    fit(micro_model(seed=1), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'b', collate, resume=True)
    assert read_log(tmp_path/'a') == read_log(tmp_path/'b')
    assert read_log(tmp_path/'a', 'val') == read_log(tmp_path/'b', 'val')
    ca,cb = (read_checkpoint(tmp_path/f'{r}/checkpoints/last.pt') for r in 'ab')
    assert ca['ema']['updates'] == 6
    assert all(torch.equal(ca['ema']['shadow'][k], cb['ema']['shadow'][k]) for k in ca['ema']['shadow'])
    # the logged validation loss is the average's, not the raw weights'
    val = lambda weights: evaluate(micro_model(weights=weights), ToyLipData(4, seed=1), collate, 2)['loss']
    assert val(trained_weights(ca)) == pytest.approx(read_log(tmp_path/'a', 'val')[-1]['loss'], rel=1e-6)
    assert abs(val(ca['model']) - val(trained_weights(ca))) > 1e-4
    export_release(tmp_path/'a/checkpoints/last.pt', tmp_path/'rel.pt')
    served = load_recipe(tmp_path/'rel.pt').state_dict()
    assert all(torch.allclose(served[k], v, atol=2e-3) for k,v in ca['ema']['shadow'].items())
    fresh = micro_model(seed=2); init_weights(fresh, tmp_path/'a/checkpoints/last.pt')
    assert all(torch.equal(fresh.state_dict()[k], v) for k,v in ca['ema']['shadow'].items())
    with pytest.raises(ConfigError, match=r"training settings differ \(ema 0.9 → 0.0\)"):
        fit(micro_model(), ToyLipData(8), None, TrainConfig(**CFG), tmp_path/'b', collate, resume=True)

KILL_SCRIPT = '''
import os, signal, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_train import ToyLipData, collate, micro_model, CFG, GAN
from l2s_nb.train import fit, TrainConfig
model = micro_model(**GAN); step = model.training_step
def training_step(batch, s, opt):
    if s == 4: os.kill(os.getpid(), signal.SIGKILL)  # dies in step 5: the last checkpoint is step 3's
    return step(batch, s, opt)
model.training_step = training_step
fit(model, ToyLipData(8), ToyLipData(4, seed=1), TrainConfig(**CFG), {run!r}, collate)
'''

def test_gan_resume_after_kill_9_gives_identical_curve(tmp_path):
    ("The multitask recipe with discriminators (two optimizers), killed with SIGKILL mid-run "
     "and resumed in another process.")
    cfg = TrainConfig(**CFG)
    fit(micro_model(**GAN), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'a', collate)
    script = tmp_path/'kill.py'
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent), run=str(tmp_path/'b')))
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == -signal.SIGKILL, r.stderr[-3000:]
    assert read_checkpoint(tmp_path/'b/checkpoints/last.pt')['step'] == 3
    # logged past the checkpoint: resuming drops rows 4
    assert [x['step'] for x in read_log(tmp_path/'b')] == [1, 2, 3, 4]
    fit(micro_model(seed=1, **GAN), ToyLipData(8), ToyLipData(4, seed=1), cfg, tmp_path/'b', collate,
        resume=True)
    a,b = read_log(tmp_path/'a'),read_log(tmp_path/'b')
    # every logged value, both optimizers' included
    assert [x['step'] for x in a] == list(range(1, 7)) and a == b
    assert {'disc', 'adv', 'fm', 'lr_disc', 'grad_norm_disc'} <= set(a[-1])
    ca,cb = (read_checkpoint(tmp_path/f'{r}/checkpoints/last.pt') for r in 'ab')
    assert sorted(ca['optimizers']) == sorted(ca['schedulers']) == sorted(ca['scalers']) == ['disc', 'main']
    assert all(torch.equal(ca['model'][k], cb['model'][k]) for k in ca['model'])
    assert read_log(tmp_path/'a', 'val') == read_log(tmp_path/'b', 'val')

DDP_SCRIPT = '''
import os, sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_train import ToyLipData, collate, micro_model, CFG, GAN
from l2s_nb.train import fit, TrainConfig
model = micro_model(**GAN)
fit(model, ToyLipData(16), ToyLipData(4, seed=1), TrainConfig(**{{**CFG, 'steps': 4, 'ema': 0.9}}), {run!r},
    collate)
torch.save(model.state_dict(), os.path.join({run!r}, 'rank%s.pt' % os.environ['RANK']))
'''

def test_ddp_gloo_two_processes(tmp_path):
    ("Two processes train the multitask recipe with its discriminators and a moving average of the weights: "
     "both optimizers' gradients are averaged.")
    script = tmp_path/'ddp.py'
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), run=str(tmp_path/'run')))
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone',
                        '--nproc_per_node=2', str(script)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    ck = read_checkpoint(tmp_path/'run/checkpoints/last.pt')
    assert (ck['step'] == 4 and len(ck['rng']) == 2 and 'loss' in ck['metrics']
            and sorted(ck['optimizers']) == ['disc', 'main'] and ck['ema']['updates'] == 4)
    s0,s1 = (torch.load(tmp_path/f'run/rank{i}.pt', weights_only=True) for i in (0, 1))
    params = [k for k in s0 if 'running' not in k and 'num_batches' not in k]  # BN statistics are per process
    assert all(torch.equal(s0[k], s1[k]) for k in params)  # gradients were averaged: replicas stay identical
    init = micro_model(**GAN).state_dict()
    for k in ('frontend.stem.weight', 'disc.discs.0.convs.0.weight'):
        assert not torch.equal(s0[k], init[k])  # both optimizers stepped
    assert [r['step'] for r in read_log(tmp_path/'run')] == [1, 2, 3, 4]

def test_cli_smoke(tmp_path):
    cfg = tmp_path/'model.yaml'
    cfg.write_text('\n'.join(f'{k}: {v}' for k,v in MICRO.items() if k != 'frontend')
                   + '\nfrontend: {stem_channels: 4, widths: [4, 8], blocks: [1, 1], downsample: 4}\n')
    args = ['12', '--run_dir', str(tmp_path/'run'), '--config', str(cfg), '--steps', '4', '--batch_size', '2',
            '--val_every', '2', '--ckpt_every', '2', '--log_every', '1', '--device', 'cpu',
            '--factory', 'test_train:toy_factory', '--export', str(tmp_path/'release.pt')]
    sys.path.insert(0, str(Path(__file__).parent))
    parsed = {k:v for k,v in vars(anno_parser(train_cli).parse_args(args)).items()
              if k not in ('pdb', 'xtra')}
    metrics = train_cli(**parsed)
    assert metrics['step'] == 4 and math.isfinite(metrics['loss'])
    for f in ('log.jsonl', 'metrics.csv', 'model_config.yaml', 'train_config.yaml', 'run_info.json',
              'checkpoints/last.pt', 'checkpoints/best.pt'):
        assert (tmp_path/'run'/f).exists(), f
    rel = torch.load(tmp_path/'release.pt', weights_only=True)
    assert set(rel) >= {'model', 'config', 'step', 'metrics'} and 'optimizer' not in rel
    assert rel['model']['frontend.stem.weight'].dtype == torch.float16
    model = load_recipe(tmp_path/'release.pt')
    assert model.generate(torch.rand(1, 6, 88, 88)).shape == (1, 80, 24)
    with pytest.raises(CheckpointError, match='release checkpoint cannot be resumed'):
        import shutil; shutil.copy(tmp_path/'release.pt', tmp_path/'run/checkpoints/last.pt')
        train_cli(**{**parsed, 'resume': True})
    with pytest.raises(ConfigError, match='data factory'):
        train_cli(**{**parsed, 'factory': 'no_such_module:f'})

def test_cli_speaker_table_is_sized_from_the_data(tmp_path):
    cfg = tmp_path/'model.yaml'
    cfg.write_text('\n'.join(f'{k}: {v}' for k,v in MICRO.items() if k != 'frontend')
                   + '\nfrontend: {stem_channels: 4, widths: [4, 8], blocks: [1, 1], downsample: 4}\n')
    sys.path.insert(0, str(Path(__file__).parent))
    train_cli('8', run_dir=str(tmp_path/'run'), config=str(cfg), set=['speaker_mode=id'], steps=2,
              batch_size=2, val_every=2, ckpt_every=2, log_every=1, device='cpu',
              factory='test_train:toy_factory', export=str(tmp_path/'release.pt'))
    model = load_recipe(tmp_path/'release.pt')
    assert (model.cfg.speaker_mode, model.cfg.n_speakers) == ('id', 2)
    assert model.generate(torch.rand(1, 6, 88, 88), speaker=1).shape == (1, 80, 24)

def test_cli_content_loss_needs_judge_and_weight_together(tmp_path):
    from l2s_nb.config import AudioConfig
    from l2s_nb.judge import CTCJudge, JudgeConfig, JudgeTrainConfig, save_judge
    cfg = tmp_path/'model.yaml'
    cfg.write_text('\n'.join(f'{k}: {v}' for k,v in MICRO.items() if k != 'frontend')
                   + '\nfrontend: {stem_channels: 4, widths: [4, 8], blocks: [1, 1], downsample: 4}\n')
    judge = save_judge(tmp_path/'judge.pt', CTCJudge(JudgeConfig(channels=8, hidden=8)), AudioConfig(),
                       JudgeTrainConfig(), {})
    args = ['8', '--run_dir', str(tmp_path/'run'), '--config', str(cfg), '--steps', '2', '--batch_size', '2',
            '--val_every', '2', '--log_every', '1', '--device', 'cpu', '--factory', 'test_train:toy_factory',
            '--set', f'content_judge={judge}', 'w_content=0.5']
    sys.path.insert(0, str(Path(__file__).parent))
    parsed = {k:v for k,v in vars(anno_parser(train_cli).parse_args(args)).items()
              if k not in ('pdb', 'xtra')}
    train_cli(**parsed)
    assert all(r['content'] > 0 for r in read_log(tmp_path/'run'))
    ck = read_checkpoint(tmp_path/'run'/'checkpoints'/'last.pt')
    assert ck['config']['w_content'] == 0.5 and ck['config']['content_judge'] == str(judge)
    assert not any('judge' in k for k in ck['model'])
    with pytest.raises(ConfigError, match='w_content=0'):
        train_cli(**{**parsed, 'run_dir': str(tmp_path/'r2'), 'set': [f'content_judge={judge}']})
    with pytest.raises(ConfigError, match='no content judge'):
        train_cli(**{**parsed, 'run_dir': str(tmp_path/'r3'), 'set': ['w_content=0.5']})
    with pytest.raises(ConfigError, match=r"--set w_content=lots: not a valid float"):
        train_cli(**{**parsed, 'run_dir': str(tmp_path/'r4'), 'set': ['w_content=lots']})
