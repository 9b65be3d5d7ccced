"Integration tests of `l2s prep`: every corpus layout, bad input, resuming, sharding, and the data loader."
import os, sys, json, zipfile
from fractions import Fraction
from pathlib import Path
import cv2
import numpy as np, pytest, torch
from fastcore.script import anno_parser
from conftest import l2s
from l2s_nb.cli import COMMANDS
from l2s_nb.config import AudioConfig, ConfigError, shared_data
from l2s_nb.face import portrait_frames, LIPS, default_tracker
from l2s_nb.video import read_video
from l2s_nb.audio import save_audio
from l2s_nb import prep as prep_module
from l2s_nb.corpora import Clip, ManifestError, save_manifest, read_corpus, read_tsv, grid_words, LAYOUTS
from l2s_nb.cache import load_record
from l2s_nb.prep import prep, prep_cli
from l2s_nb.datasets import make_loader
from fake_corpora import make_layout, write_clip, grid_id, tone

def test_fake_grid_ids_are_distinct(): assert len({grid_id(k) for k in range(40)}) == 40

def failed(out, name='failed.tsv'): return {r['id']: r['reason'] for r in read_tsv(Path(out)/name)}

def check_cache(out, n_frames):
    "Every manifest row points at a record whose shapes follow the cache interface."
    rows = read_tsv(Path(out)/'manifest.tsv')
    for r in rows:
        rec = load_record(Path(out)/r['path'])
        assert rec['mouth'].shape == (n_frames, 96, 96) and rec['mouth'].dtype == np.uint8
        assert rec['mel'].shape == (80, 4*n_frames) and rec['mel'].dtype == np.float16
        assert rec['id'] == r['id'] and rec['speaker'] == r['speaker'] and rec['text'] == r['transcript']
    return rows

@pytest.mark.parametrize('layout', ['grid', 'grid_shared', 'synthgrid', 'lrs2', 'lrs3', 'lrw', 'lip2wav',
                                    'manifest'])
def test_every_layout(tmp_path, layout):
    root = make_layout(layout, tmp_path/'corpus', n=3, n_frames=8)
    s = prep('grid' if layout == 'grid_shared' else layout, root, tmp_path/'out', workers=0)
    assert (s['done'], s['failed']) == (3, {})
    rows = check_cache(tmp_path/'out', 8)
    assert len(rows) == 3 and all(float(r['duration']) == 8/25 for r in rows)
    if layout in ('grid', 'grid_shared', 'synthgrid', 'lrs2', 'lrs3', 'manifest'):
        assert all(r['transcript'] for r in rows)

def test_cli_two_workers_and_report(tmp_path):
    "`prep_cli` parsed from a command line exactly as `l2s` does it, with two worker processes."
    root = make_layout('lrs3', tmp_path/'lrs3', n=3, n_frames=8)
    args = anno_parser(prep_cli, prog='l2s prep').parse_args(
        ['lrs3', str(root), str(tmp_path/'out'), '--workers', '2', '--report', str(tmp_path/'r.json')])
    prep_cli(**{k: v for k, v in vars(args).items() if k not in ('pdb', 'xtra')})
    rep = json.loads((tmp_path/'r.json').read_text())
    assert (rep['done'] == 3 and rep['frames'] == 24 and rep['frames_per_second'] > 0
            and rep['frames_per_cpu_second'] > 0 and 'git_sha' in rep['run_info'])
    assert (tmp_path/'out'/'contact_sheet.png').exists() and len(check_cache(tmp_path/'out', 8)) == 3

@pytest.mark.skipif('prep' not in COMMANDS, reason='`l2s prep` is not registered in l2s_nb.cli yet')
def test_l2s_prep_console_command(tmp_path):
    root = make_layout('lrw', tmp_path/'lrw', n=2, n_frames=5)
    r = l2s('prep', 'lrw', root, tmp_path/'out', '--workers', '0')
    assert r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1])['done'] == 2
    bad = l2s('prep', 'lrs9', root, tmp_path/'out')
    assert bad.returncode != 0 and "unknown layout 'lrs9'" in bad.stderr

def test_bad_clips_are_skipped_with_reasons(tmp_path):
    ("Corrupt, truncated, faceless, silent and mismatched clips are listed with their reason; "
     "the good one is prepared.")
    root = tmp_path/'c'; v = root/'videos'
    write_clip(v/'good.mp4', 8)
    write_clip(v/'truncated.mp4', 8); b = (v/'truncated.mp4').read_bytes()
    (v/'truncated.mp4').write_bytes(b[:len(b)//2])
    (v/'corrupt.mp4').write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    write_clip(v/'noface.mp4', 8, faces=())
    write_clip(v/'silent.mp4', 8, audio=False)
    write_clip(v/'long_audio.mp4', 8, audio=False, audio_path=root/'long.wav', audio_seconds=2.0)
    ids = ['good', 'truncated', 'corrupt', 'noface', 'silent', 'long_audio']
    save_manifest([Clip(i, 'x', 'train', f'videos/{i}.mp4', audio='long.wav' if i == 'long_audio' else '')
                   for i in ids], root/'manifest.tsv')
    s = prep('manifest', root, tmp_path/'out', workers=0)
    assert s['done'] == 1 and sum(s['failed'].values()) == 5
    assert failed(tmp_path/'out') == dict(truncated='NotMediaError', corrupt='NotMediaError',
                                          noface='NoFaceError', silent='NoAudioStreamError',
                                          long_audio='LengthMismatchError')
    msgs = {r['id']: r['message'] for r in read_tsv(tmp_path/'out'/'failed.tsv')}
    assert (msgs['long_audio'].startswith(str(v/'long_audio.mp4'))
            and 'audio is 2.000 s but video is 0.320 s' in msgs['long_audio'])
    assert [r['id'] for r in read_tsv(tmp_path/'out'/'manifest.tsv')] == ['good']

def test_small_av_difference_is_absorbed(tmp_path):
    root = tmp_path/'c'
    # 50 ms short of the video
    write_clip(root/'v.mp4', 10, audio=False, audio_path=root/'a.wav', audio_seconds=0.35)
    save_manifest([Clip('v', 'x', 'train', 'v.mp4', audio='a.wav')], root/'manifest.tsv')
    assert prep('manifest', root, tmp_path/'out', workers=0)['done'] == 1
    rec = load_record(tmp_path/'out'/'x'/'v.npz')
    # padded silence
    assert (rec['mel'].shape == (80, 40)
            and np.allclose(rec['mel'][:, -3:].astype(np.float32), np.log(1e-5), atol=1e-2))

def test_several_faces_keeps_the_largest(tmp_path):
    "With two faces the crop matches the large face's crop, not the small one's."
    root = tmp_path/'c'
    small, big, shape = (10, 60, 200), (230, 0, 280), (288, 520)  # both faces are detected
    write_clip(root/'two.mp4', 10, faces=(small, big), shape=shape)
    write_clip(root/'big.mp4', 10, faces=(big,), shape=shape)
    write_clip(root/'small.mp4', 10, faces=(small,), shape=shape)
    save_manifest([Clip(i, 'x', 'train', f'{i}.mp4') for i in ('two', 'big', 'small')], root/'manifest.tsv')
    assert prep('manifest', root, tmp_path/'out', workers=0)['done'] == 3
    two, big, small = (load_record(tmp_path/'out'/'x'/f'{i}.npz')['mouth'].astype(float)
                       for i in ('two', 'big', 'small'))
    assert np.abs(two - big).mean() < 0.5*np.abs(two - small).mean()

def test_variable_frame_rate(tmp_path):
    "A VFR video (frames 20 and 50 ms apart) comes out at 25 fps with 4 mel frames per frame."
    import av
    root = tmp_path/'c'; root.mkdir(); frames = portrait_frames(30)
    with av.open(str(root/'vfr.mp4'), 'w') as c:
        s = c.add_stream('libx264', rate=30, options={'bf': '0'})
        s.width, s.height, s.pix_fmt = 360, 288, 'yuv420p'
        s.codec_context.time_base = Fraction(1, 1000); t = 0
        for k, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.stack([f]*3, -1), format='rgb24')
            vf.pts, vf.time_base = t, Fraction(1, 1000)
            t += 20 if k % 2 else 50
            for p in s.encode(vf): c.mux(p)
        for p in s.encode(): c.mux(p)
    save_audio(root/'a.wav', tone(1.05))
    save_manifest([Clip('vfr', 'x', 'train', 'vfr.mp4', audio='a.wav')], root/'manifest.tsv')
    assert prep('manifest', root, tmp_path/'out', workers=0)['done'] == 1
    rec = load_record(tmp_path/'out'/'x'/'vfr.npz'); T = len(rec['mouth'])
    assert abs(T - 1.05*25) <= 2 and T == len(read_video(root/'vfr.mp4')) and rec['mel'].shape == (80, 4*T)

def test_manifest_outside_root_is_refused(tmp_path):
    root = tmp_path/'c'; write_clip(tmp_path/'outside.mp4', 5)
    save_manifest([Clip('a', 'x', 'train', '../outside.mp4')], root/'manifest.tsv')
    with pytest.raises(ManifestError, match='points outside the corpus root'):
        prep('manifest', root, tmp_path/'out', workers=0)
    assert not (tmp_path/'out'/'x').exists()

def test_landmarks_must_fit_the_video(tmp_path):
    root = make_layout('synthgrid', tmp_path/'sg', n=2, n_frames=6)
    lm = root/'s1'/'landmarks'/f'{grid_id(1)}.npy'; np.save(lm, np.load(lm)[:4])
    prep('synthgrid', root, tmp_path/'out', workers=0)
    assert failed(tmp_path/'out') == {grid_id(1): 'LandmarksError'}

def test_interrupted_run_resumes_without_losing_work(tmp_path, monkeypatch):
    root = make_layout('lrs3', tmp_path/'c', n=3, n_frames=6); out = tmp_path/'out'
    real, calls = prep_module.save_record, []
    def dies_on_second(path, rec):
        calls.append(path)
        if len(calls) == 2:  # killed while writing: a partial temporary file exists at that moment
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            (Path(path).parent/f'.{Path(path).name}.abc.tmp').write_bytes(b'partial')
            raise KeyboardInterrupt
        return real(path, rec)
    monkeypatch.setattr(prep_module, 'save_record', dies_on_second)
    with pytest.raises(KeyboardInterrupt): prep('lrs3', root, out, workers=0)
    first = sorted(out.rglob('*.npz')); assert len(first) == 1
    before = first[0].read_bytes()
    monkeypatch.setattr(prep_module, 'save_record', real)
    s = prep('lrs3', root, out, workers=0)
    assert (s['done'], s['skipped'], s['failed']) == (2, 1, {})
    assert first[0].read_bytes() == before and not list(out.rglob('*.tmp'))
    assert len(check_cache(out, 6)) == 3

def test_shards_then_merge(tmp_path):
    root = make_layout('lrw', tmp_path/'c', n=4, n_frames=5); out = tmp_path/'out'
    a, b = prep('lrw', root, out, workers=0, shard='0/2'), prep('lrw', root, out, workers=0, shard='1/2')
    assert a['done'] + b['done'] == 4 and len(read_tsv(out/'manifest-0of2.tsv')) == a['done']
    s = prep('lrw', root, out, workers=0)
    assert (s['done'], s['skipped']) == (0, 4) and len(read_tsv(out/'manifest.tsv')) == 4

def test_other_config_into_same_cache_is_an_error(tmp_path):
    root = make_layout('lrw', tmp_path/'c', n=1, n_frames=5)
    prep('lrw', root, tmp_path/'out', workers=0)
    with pytest.raises(ConfigError, match='different config'):
        prep('lrw', root, tmp_path/'out', workers=0, audio=AudioConfig(n_mels=64))

def test_loader_is_reproducible_across_workers(tmp_path):
    root = make_layout('synthgrid', tmp_path/'sg', n=4, n_frames=8)
    prep('synthgrid', root, tmp_path/'out', workers=0)
    def batches(workers):
        return [b for b in make_loader(tmp_path/'out', 'train', batch_size=2, window=5,
                                       workers=workers, seed=3)]
    b0, b2 = batches(0), batches(2)
    assert len(b0) == 2 and all(torch.equal(x['mouth'], y['mouth']) and x['id'] == y['id']
                                for x, y in zip(b0, b2))
    assert b0[0]['mouth'].shape == (2, 5, 88, 88) and b0[0]['mel'].shape == (2, 80, 20)
    other = [b for b in make_loader(tmp_path/'out', 'train', batch_size=2, window=5, seed=4)]
    assert any(not torch.equal(x['mouth'], y['mouth'])
               for x, y in zip(sorted(b0, key=lambda b: b['id']), sorted(other, key=lambda b: b['id'])))

GRID = shared_data('grid')

@pytest.mark.skipif(GRID is None, reason='shared GRID s1 corpus not present')
def test_grid_s1_reader_and_split():
    clips = read_corpus('grid', GRID)
    assert len(clips) == 950 and all(c.audio.endswith('.flac') and c.video.endswith('.mp4') for c in clips)
    c = next(c for c in clips if c.id == 'bbaf3s')
    assert c.transcript == 'bin blue at f three soon' and c.duration == 3.0
    split = {r['id']: r['split'] for r in read_tsv(Path(__file__).parents[1]/'data'/'grid_s1_split.tsv')}
    assert {c.id: c.split for c in clips} == split and sum(s == 'val' for s in split.values()) == 50

@pytest.mark.skipif(GRID is None, reason='shared GRID s1 corpus not present')
def test_grid_s1_three_clips(tmp_path):
    clips = read_corpus('grid', GRID)[::400]
    root = tmp_path/'g'/'s1'
    for sub in ('video', 'audio', 'align'): (root/sub).mkdir(parents=True)
    for c in clips:
        for rel in (c.video, c.audio, f's1/align/{c.id}.align'): (tmp_path/'g'/rel).symlink_to(GRID/rel)
    s = prep('grid', tmp_path/'g', tmp_path/'out', workers=0)
    assert s['done'] == 3 and s['full_track'] == 3 and s['jitter_mean'] < 1.0
    assert len(check_cache(tmp_path/'out', 75)) == 3
