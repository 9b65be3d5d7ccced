"""Issue 11, real video handled safely: outputs never replace inputs or leave their folder (A1-A5), \
one bad file never
stops a batch and nothing is dropped silently (B1-B5), and the smaller messages (C1-C3).

Each test checks the exit code of the `l2s` command, the words of its message (file, problem, what to do), \
that no
input changed and that nothing was written outside the output folder (hashes of the whole tmp tree \
before and after).
Most commands run through `l2s_nb.cli.main` in this process (the console command's own entry point; \
it saves the
~5 s import of a fresh process); the damaged-video batch, the overwrite case and the CUDA case also run \
as real
`l2s` processes."""
import hashlib, json, logging, shutil
from pathlib import Path
from unittest.mock import patch
import numpy as np, pytest, soundfile as sf, torch
from conftest import l2s
from l2s_nb.cli import main
from l2s_nb.config import AudioConfig, ConfigError, VideoConfig, to_dict
from l2s_nb.audio import save_audio
from l2s_nb.corpora import Clip, save_manifest, read_tsv, write_tsv, grid_words
from l2s_nb.prep import prep
from fake_corpora import make_layout, write_clip, grid_id
from l2s_nb.face import portrait_frames
from l2s_nb.infer import plan_outputs
from l2s_nb.recipes import build_recipe
from l2s_nb.train import save_checkpoint
from l2s_nb.video import _ffmpeg, write_video

torch.set_num_threads(1)

def tree(*roots)->dict:
    "sha1 of every file under `roots`, by path."
    return {p: hashlib.sha1(p.read_bytes()).hexdigest()
            for r in roots for p in sorted(Path(r).rglob('*')) if p.is_file()}

def changed(before:dict, after:dict)->list:
    "Files added, removed or modified between two `tree`s."
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))

def assert_only_in(before:dict, after:dict, *folders):
    "Every change lies inside one of `folders` (the command's output folders)."
    stray = [p for p in changed(before, after) if not any(p.is_relative_to(f) for f in folders)]
    assert not stray, f"written outside the output folder: {stray}"


def sine(seconds=1.5, f0=180., seed=0)->np.ndarray:
    "A harmonic tone with a slow amplitude envelope (speech-like enough for every metric)."
    t = np.arange(int(seconds*16000))/16000
    env = 0.5*(1+np.sin(2*np.pi*2.5*t+seed))
    return (0.2*env*sum(np.sin(2*np.pi*f0*k*t+seed)/k for k in (1, 2, 3, 4))).astype(np.float32)

@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    "An untrained `tiny` multitask checkpoint (inference plumbing only)."
    d = tmp_path_factory.mktemp('model'); torch.manual_seed(0); model = build_recipe('multitask', 'tiny')
    return save_checkpoint(d/'tiny.pt', dict(recipe='multitask', config=to_dict(model.cfg),
                                             audio=to_dict(AudioConfig()), video=to_dict(VideoConfig()),
                                             step=0, metrics={}, model=model.state_dict()))

TRAIN = ['--preset', 'tiny', '--batch_size', 2, '--warmup_steps', 1, '--ckpt_every', 1, '--log_every', 1,
         '--threads', 1, '--device', 'cpu']

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A prep cache of two tiny clips and a `tiny` run of 2 steps stopped after step 1: `(cache, run_dir)`."
    d = tmp_path_factory.mktemp('trained')
    prep('manifest', make_layout('manifest', d/'corpus', n=2, n_frames=8), d/'cache', workers=0)
    assert main(['train', str(d/'cache'), '--run_dir', str(d/'run'), '--steps', '2', '--stop_at', '1',
                 *map(str, TRAIN)]) == 0
    return d/'cache', d/'run'

# A. Never overwrite an input, never write outside the output

def test_a1_infer_never_writes_over_its_input(tmp_path, ckpt, cli):
    d = tmp_path/'DIR'; video = write_clip(d/'talk.mp4', 8)
    before = tree(tmp_path, ckpt.parent)
    r = l2s('infer', video, '--checkpoint', ckpt, '--out', d, '--mux')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert f"l2s infer: error: {video}: is an input, and talk.mp4 would be written over it" in r.stderr
    assert 'choose an --out folder that holds none of the inputs' in r.stderr
    assert tree(tmp_path, ckpt.parent) == before  # refused before any work: nothing written, the video intact
    (d/'infer_summary.json').write_text('{"mine": 1}')  # the summary may not replace an input either
    before = tree(tmp_path, ckpt.parent)
    code, _, err = cli('infer', video, d/'infer_summary.json', '--checkpoint', ckpt, '--out', d)
    assert code == 2 and (f"{d/'infer_summary.json'}: is an input, "
                          "and infer_summary.json would be written over it") in err
    assert tree(tmp_path, ckpt.parent) == before

def test_a2_prep_refuses_to_write_into_its_corpus(tmp_path, cli):
    root = make_layout('manifest', tmp_path/'R', n=2, n_frames=5)
    before = tree(tmp_path)
    code, _, err = cli('prep', 'manifest', root, root, '--workers', 0)
    assert code == 2 and f"{root}: the cache folder is the corpus root {root}" in err
    assert ('could replace) the corpus' in err
            and f"choose a separate cache folder, e.g. {tmp_path/'R_cache'}" in err)
    code, _, err = cli('prep', 'manifest', root, tmp_path, '--workers', 0)
    assert code == 2 and f"{tmp_path}: the cache folder holds the corpus root {root}" in err
    code, _, err = cli('prep', 'manifest', root, tmp_path/'cache', '--workers', 0,
                       '--report', root/'manifest.tsv')
    assert code == 2 and (f"{root/'manifest.tsv'}: is a file of the corpus "
                          f"and prep would write {root/'manifest.tsv'} over it") in err
    assert tree(tmp_path) == before

def test_a3_same_stems_and_subfolders_get_their_own_outputs(tmp_path, ckpt, cli):
    vids = tmp_path/'vids'
    # 1 s: today's decoder can't read MPEG-PS files much shorter than that
    x = write_clip(vids/'a'/'x.mp4', 25)
    _ffmpeg(['-i', x, '-c:v', 'mpeg1video', '-q:v', '2', '-c:a', 'mp2', vids/'a'/'x.mpg'])
    write_clip(vids/'s1'/'y.mp4', 8); (vids/'s2').mkdir(); shutil.copy(vids/'s1'/'y.mp4', vids/'s2'/'y.mp4')
    before = tree(tmp_path, ckpt.parent)
    code, out, err = cli('infer', vids, '--checkpoint', ckpt, '--out', tmp_path/'out')
    assert code == 0, err
    o = tmp_path/'out'
    s = json.loads((o/'infer_summary.json').read_text())
    assert {Path(v): Path(p['wav']) for v, p in s['outputs'].items()} == {
        vids/'a'/'x.mp4': o/'a'/'x.mp4.wav', vids/'a'/'x.mpg': o/'a'/'x.mpg.wav',
        vids/'s1'/'y.mp4': o/'s1'/'y.wav', vids/'s2'/'y.mp4': o/'s2'/'y.wav'}
    assert (len(s['done']) == 4 and all(Path(d['wav']).exists() for d in s['done'])
            and '4 videos spoken' in out)
    assert_only_in(before, tree(tmp_path, ckpt.parent), o)
    before = tree(tmp_path, ckpt.parent)  # what is still ambiguous is refused before any work
    code, _, err = cli('infer', vids/'s1'/'y.mp4', vids/'s2'/'y.mp4', '--checkpoint', ckpt,
                       '--out', tmp_path/'out2')
    assert code == 2 and f"{vids/'s1'/'y.mp4'} and {vids/'s2'/'y.mp4'} would both be written to" in err
    assert 'pass their common folder instead of the files one by one' in err
    assert tree(tmp_path, ckpt.parent) == before and not (tmp_path/'out2').exists()
    assert plan_outputs([vids/'s1'/'y.mp4', vids/'a'], tmp_path/'o')[vids/'s1'/'y.mp4']['name'] == 'y'

def test_a4_synthgrid_refuses_a_folder_that_is_not_synthgrid(tmp_path, cli):
    root = make_layout('grid_shared', tmp_path/'GRID', n=2, n_frames=5)
    before = tree(tmp_path)
    code, _, err = cli('synthgrid', root, '--clips', 2, '--speakers', 1, '--workers', 1)
    assert code == 2 and f"{root}: is not empty and is not a SynthGRID corpus (no synthgrid.json)" in err
    assert 'would replace real ones there' in err and 'Generate into an empty or new folder' in err
    assert tree(tmp_path) == before
    # an interrupted SynthGRID run (synthgrid.json written first) may resume
    from l2s_nb.synthgrid import _check_args, CANVAS
    (tmp_path/'sg'/'s1'/'video').mkdir(parents=True); (tmp_path/'sg'/'synthgrid.json').write_text('{}')
    (tmp_path/'sg'/'s1'/'video'/'x.mp4').write_bytes(b'clip')
    _check_args(tmp_path/'sg', 2, 1, 0, 1, 75, CANVAS)

def test_a5_speakers_and_ids_cannot_leave_the_cache(tmp_path, cli):
    root = tmp_path/'corpus'; write_clip(root/'v'/'a.mp4', 5)
    cache, outside = tmp_path/'work'/'cache', tmp_path/'elsewhere'
    for spk in ('../../elsewhere', str(outside)):
        save_manifest([Clip('ok', 'me', 'train', 'v/a.mp4'), Clip('a', spk, 'train', 'v/a.mp4')],
                      root/'manifest.tsv')
        before = tree(tmp_path)
        code, _, err = cli('prep', 'manifest', root, cache, '--workers', 0)
        assert code == 2 and f"{root/'manifest.tsv'} line 3: speaker {spk!r}" in err, err
        assert 'it must be one plain name' in err
        assert tree(tmp_path) == before and not outside.exists() and not cache.exists()
    save_manifest([Clip('..', 'me', 'train', 'v/a.mp4')], root/'manifest.tsv')
    code, _, err = cli('prep', 'manifest', root, cache, '--workers', 0)
    assert code == 2 and "manifest.tsv line 2: id '..' is '.' or '..'" in err
    # every layout: ids from file names are checked too (a GRID video called '...mp4' has the id '..')
    g = make_layout('grid_shared', tmp_path/'g', n=1, n_frames=5)
    shutil.copy(g/'s1'/'video'/f'{grid_id(0)}.mp4', g/'s1'/'video'/'...mp4')
    rows = read_tsv(g/'transcripts.tsv') + [dict(id='..', speaker='s1', n_video_frames=5,
                                                 transcript=grid_words(grid_id(0)))]
    write_tsv(g/'transcripts.tsv', rows, ['id', 'speaker', 'n_video_frames', 'transcript'])
    before = tree(tmp_path)
    code, _, err = cli('prep', 'grid', g, cache, '--workers', 0)
    assert code == 2 and f"{g/'s1'/'video'/'...mp4'}: id '..'" in err
    assert tree(tmp_path) == before

# B. One bad file never stops a batch, and nothing is dropped silently

def test_b1_damaged_videos_fail_one_by_one(tmp_path, ckpt):
    src = write_clip(tmp_path/'src'/'clip.mp4', 25); vids = tmp_path/'vids'; vids.mkdir()
    _ffmpeg(['-i', src, '-c:v', 'mpeg1video', '-q:v', '2', '-c:a', 'mp2', tmp_path/'src'/'full.mpg'])
    b = (tmp_path/'src'/'full.mpg').read_bytes(); (vids/'a_cut.mpg').write_bytes(b[:int(0.4*len(b))])
    _ffmpeg(['-i', src, '-c', 'copy', '-movflags', '+faststart', tmp_path/'src'/'fast.mp4'])
    b = (tmp_path/'src'/'fast.mp4').read_bytes(); i = b.index(b'moov')
    moov_end = i-4+int.from_bytes(b[i-4:i], 'big')
    # faststart: the index comes first, so the cut removes frames, not the index
    assert moov_end < b.index(b'mdat')
    (vids/'b_cut.mp4').write_bytes(b[:moov_end+(len(b)-moov_end)//3])
    shutil.copy(src, vids/'c_good.mp4')  # sorted last: it must still be spoken
    before = tree(tmp_path, ckpt.parent)
    r = l2s('infer', vids, '--checkpoint', ckpt, '--out', tmp_path/'out')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert 'l2s infer: error: 1 of 3 videos failed (2 written; details in' in r.stderr
    assert f"{vids/'b_cut.mp4'}: decoding failed after" in r.stderr and 'damaged or truncated' in r.stderr
    s = json.loads((tmp_path/'out'/'infer_summary.json').read_text())
    # an MPEG program stream has no index: cut short, it decodes to the frames it still holds,
    # and they are spoken
    assert ([(Path(d['video']).name, d['frames']) for d in s['done']][1] == ('c_good.mp4', 25)
            and s['done'][0]['frames'] < 25)
    assert (tmp_path/'out'/'c_good.wav').exists() and (tmp_path/'out'/'a_cut.wav').exists()
    assert [Path(f['video']).name for f in s['failed']] == ['b_cut.mp4']
    assert all(f['reason'].startswith(f['video']) and f['error'] for f in s['failed'])
    assert_only_in(before, tree(tmp_path, ckpt.parent), tmp_path/'out')

def test_b2_bad_align_files_fail_their_clip_only(tmp_path, cli, caplog):
    root = make_layout('grid', tmp_path/'grid', n=3, n_frames=8)
    ids = sorted(grid_id(k) for k in range(3)); al = root/'alignments'/'s1'
    (al/f'{ids[0]}.align').write_text('0 100 sil\n100 2oo bin\n200 300 blue\n')  # one malformed line
    (al/f'{ids[1]}.align').write_text('0 100 sil\n100 200 sp\n')                  # no word lines at all
    before = tree(tmp_path)
    with caplog.at_level(logging.WARNING, logger='l2s_nb'):
        code, out, err = cli('prep', 'grid', root, tmp_path/'cache', '--workers', 0)
    assert code == 0, err
    s = json.loads(out.strip().splitlines()[-1])
    assert (s['clips'], s['done'], s['failed']) == (3, 1, {'ManifestError': 2})
    failed = {r['id']: r['message'] for r in read_tsv(tmp_path/'cache'/'failed.tsv')}
    assert f"{al/(ids[0]+'.align')}: line 2 '100 2oo bin' is not 'start end word'" in failed[ids[0]]
    assert (f"{al/(ids[1]+'.align')}: no word lines" in failed[ids[1]]
            and 'fix or remove the file' in failed[ids[1]])
    assert [r['id'] for r in read_tsv(tmp_path/'cache'/'manifest.tsv')] == [ids[2]]
    warned = ' '.join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert f'skipped s1/{ids[0]}' in warned and f'skipped s1/{ids[1]}' in warned
    assert_only_in(before, tree(tmp_path), tmp_path/'cache')

def test_b3_score_names_every_excluded_file(tmp_path, cli):
    ref, gen, out = tmp_path/'ref', tmp_path/'gen', tmp_path/'out'
    for k in range(4): save_audio(ref/f'u{k}.wav', sine(seed=k))
    for k in range(3):
        save_audio(gen/f'u{k}.wav', sine(seed=k) + 0.01*np.cos(np.arange(24000, dtype=np.float32)))
    nan = sine(seed=1); nan[500] = np.nan
    sf.write(gen/'u1.wav', nan, 16000, subtype='FLOAT')    # a diverged model's output
    save_audio(ref/'u2.wav', np.zeros(24000, np.float32))  # a silent reference
    before = tree(tmp_path)                                # u3 has no generated file
    code, _, err = cli('score', ref, gen, '--out', out)
    assert code == 2 and 'Traceback' not in err
    assert f"l2s score: error: 3 of 4 clips were left out of some or all means (reports in {out})" in err
    assert (f"{gen/'u1.wav'}: contains 1 NaN or infinite samples — the file is damaged "
            "or was written from a diverged model") in err
    s = json.loads((out/'summary.json').read_text())
    assert ({e['id']: e['kind'] for e in s['excluded']}
            == dict(u1='NonFiniteAudioError', u2='SilentReferenceError', u3='missing'))
    assert (s['n'], s['n_excluded'], s['summary']['stoi']['n'],
            s['summary']['stoi']['excluded']) == (1, 3, 1, 3)
    md = (out/'summary.md').read_text()
    assert '| n | excluded |' in md and f"- u3: {ref/'u3.wav'}: no generated file {gen}/u3.wav" in md
    assert (f"- u2: {ref/'u2.wav'}: the reference is silent" in md
            and f"- u1: {gen/'u1.wav'}: contains 1 NaN" in md)
    assert_only_in(before, tree(tmp_path), out)
    (gen/'u1.wav').unlink()
    code, _, err = cli('score', ref, gen, '--out', out)
    assert (code == 2 and 'Pass --allow-missing to accept this' in err
            and f"{ref/'u1.wav'}: no generated file" in err)
    before = tree(tmp_path)
    code, stdout, err = cli('score', ref, gen, '--out', out, '--allow-missing')
    assert code == 0, err
    assert 'Excluded (3):' in stdout and json.loads((out/'summary.json').read_text())['n_excluded'] == 3
    assert_only_in(before, tree(tmp_path), out)

def test_b4_resume_without_a_checkpoint_is_an_error(tmp_path, cli):
    before = tree(tmp_path)
    code, _, err = cli('train', tmp_path/'cache', '--run_dir', tmp_path/'run', '--resume', *TRAIN)
    assert code == 2 and (f"--resume: {tmp_path/'run'} has no checkpoint to resume "
                          f"({tmp_path/'run'/'checkpoints'/'last.pt'} not found)") in err
    assert 'check --run_dir, or drop --resume to start a fresh run there' in err
    assert tree(tmp_path) == before and not (tmp_path/'run').exists()

def test_b5_stale_temporaries_are_removed_when_training_starts(tmp_path, trained, cli, caplog):
    cache, run0 = trained; run = tmp_path/'run'; shutil.copytree(run0, run)
    # what kill -9 during a checkpoint write leaves
    stale = run/'checkpoints'/'.last.pt.k3j9_x1.pt.tmp'; stale.touch()
    before = tree(tmp_path, cache)
    with caplog.at_level(logging.INFO, logger='l2s_nb'):
        code, _, err = cli('train', cache, '--run_dir', run, '--resume', '--steps', 2, *TRAIN)
    assert code == 0, err
    assert not stale.exists() and not list(run.rglob('*.tmp'))
    assert (f"{run}: removed 1 temporary file(s) an interrupted run left behind: "
            f"checkpoints/{stale.name}") in caplog.text
    assert torch.load(run/'checkpoints'/'last.pt', weights_only=True)['step'] == 2
    assert_only_in(before, tree(tmp_path, cache), run)

# C. Smaller messages

def test_c1_a_sideways_face_gets_the_rotate_hint(tmp_path, ckpt, cli):
    # turned in the pixels
    frames = np.ascontiguousarray(np.rot90(portrait_frames(10, (288, 360)), 1, axes=(1, 2)))
    video = write_video(tmp_path/'in'/'sideways.mp4', frames)
    before = tree(tmp_path, ckpt.parent)
    code, _, err = cli('infer', video, '--checkpoint', ckpt, '--out', tmp_path/'out')
    assert code == 2 and f"{video}: no face found in any of its 10 frames" in err
    assert 'sideways or upside-down video' in err and 'ffmpeg -i in.mp4 -vf transpose=1 out.mp4' in err
    assert_only_in(before, tree(tmp_path, ckpt.parent), tmp_path/'out')

def test_c2_resume_with_other_settings_says_what_differs(tmp_path, trained, cli):
    cache, run0 = trained; run = tmp_path/'run'; shutil.copytree(run0, run)
    before = tree(tmp_path, cache)
    base = [a for a in TRAIN if a not in ('--preset', 'tiny')] + ['--preset', 'base']
    code, _, err = cli('train', cache, '--run_dir', run, '--resume', *base, '--steps', 5)
    assert code == 2, err
    assert ("the model preset differs, 'tiny' in the checkpoint and 'base' now (" in err
            and 'd_model 128 → 256' in err)
    assert 'the training settings differ (steps 2 → 5)' in err
    assert 'To continue the run, rerun with its original settings (--preset tiny --steps 2)' in err
    assert 'to train with the new settings, start a new run in another folder (--run_dir)' in err
    code, _, err = cli('train', cache, '--run_dir', run, '--resume', *TRAIN, '--steps', 3)
    assert code == 2 and 'the model' not in err and '(steps 2 → 3)' in err and '(--steps 2)' in err
    assert tree(tmp_path, cache) == before

def test_c3_cuda_without_cuda_is_a_one_line_error(tmp_path, ckpt, cli):
    video = write_clip(tmp_path/'in'/'talk.mp4', 5)
    msg = 'CUDA was requested (--device cuda) but this machine has no CUDA device; use --device cpu'
    before = tree(tmp_path, ckpt.parent)
    # what a machine without CUDA says, wherever the test runs
    with patch('torch.cuda.is_available', lambda: False):
        for args in (['infer', video, '--checkpoint', ckpt, '--out', tmp_path/'out', '--device', 'cuda'],
                     ['train', tmp_path/'cache', '--run_dir', tmp_path/'run', '--device', 'cuda']):
            code, _, err = cli(*args)
            assert code == 2 and f'l2s {args[0]}: error: {msg}' in err, err
        from l2s_nb.experiment import ExperimentConfig, run_experiment
        with pytest.raises(ConfigError, match=r'CUDA was requested \(--device cuda\)'):
            run_experiment(ExperimentConfig(device='cuda'), tmp_path/'exp')
    if not torch.cuda.is_available():  # the real thing, in a fresh process
        r = l2s('infer', video, '--checkpoint', ckpt, '--out', tmp_path/'out', '--device', 'cuda')
        assert r.returncode == 2 and f'l2s infer: error: {msg}' in r.stderr and 'Traceback' not in r.stderr
    assert tree(tmp_path, ckpt.parent) == before
