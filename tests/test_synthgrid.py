"SynthGRID end to end: the CLI on a tiny corpus, GRID layout, determinism, resuming, bad input."
import csv, json, os, subprocess, sys
from pathlib import Path
import numpy as np, pytest, soundfile as sf
from l2s_nb.synthgrid import CLIP_PARTS, parse_id

def l2s_synthgrid(*args):
    return subprocess.run([str(Path(sys.executable).parent/'l2s'), 'synthgrid', *map(str, args)],
                          capture_output=True, text=True, timeout=600)

def rows(path):
    return list(csv.DictReader(Path(path).open(), delimiter='\t'))

def corpus_bytes(out:Path)->dict:
    "Every file of a corpus except the progress log, as bytes."
    return {str(p.relative_to(out)):p.read_bytes() for p in sorted(out.rglob('*'))
            if p.is_file() and p.name!='.progress.tsv'}

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp('sg')/'corpus'
    r = l2s_synthgrid(out, '--clips', 6, '--speakers', 4, '--seed', 3, '--workers', 2)
    assert r.returncode==0, r.stderr
    return out, json.loads(r.stdout.strip().splitlines()[-1])

def test_cli_summary(corpus):
    out, summary = corpus
    assert summary['clips']==6 and summary['made']==6 and summary['kept']==0
    assert summary['bytes_per_clip'] > 1000

def test_layout(corpus):
    from l2s_nb.video import probe
    out, _ = corpus
    tr = rows(out/'transcripts.tsv')
    assert list(tr[0])==['id', 'speaker', 'n_video_frames', 'transcript']
    assert [r['speaker'] for r in tr]==['s1', 's1', 's2', 's2', 's3', 's4']
    for r in tr:
        assert ' '.join(parse_id(r['id']))==r['transcript'] and r['n_video_frames']=='75'
        base = out/r['speaker']
        for part,ext in CLIP_PARTS: assert (base/part/f"{r['id']}{ext}").is_file()
        info = sf.info(str(base/'audio'/f"{r['id']}.wav"))
        assert (info.samplerate, info.channels, info.frames, info.subtype)==(16000, 1, 75*640, 'PCM_16')
        v = probe(base/'video'/f"{r['id']}.mp4")
        assert v.n_frames==75 and abs(v.fps-25)<1e-6 and (v.width, v.height)==(176, 144)
        align = [l.split() for l in (base/'align'/f"{r['id']}.align").read_text().splitlines()]
        assert [w for *_,w in align]==['sil', *r['transcript'].split(), 'sil']
        ticks = [(int(a), int(b)) for a,b,_ in align]
        assert ticks[0][0]==0 and ticks[-1][1]==75000 and all(a<b for a,b in ticks)
        assert all(p[1]==q[0] for p,q in zip(ticks, ticks[1:]))
        lm = np.load(base/'landmarks'/f"{r['id']}.npy")
        assert lm.dtype==np.float32 and lm.shape==(75, 20, 2)
        assert ((lm[..., 0]>0).all() and (lm[..., 0]<176).all() and (lm[..., 1]>0).all()
                and (lm[..., 1]<144).all())
        # iBUG order: corners 48/54 (0/6) and 60/64 (12/16); 51 above 57 (3/9), 62 not below 66 (14/18)
        assert (lm[:, 0, 0]<lm[:, 12, 0]).all() and (lm[:, 16, 0]<lm[:, 6, 0]).all()
        assert (lm[:, 3, 1]<lm[:, 9, 1]).all() and (lm[:, 14, 1]<=lm[:, 18, 1]+1e-4).all()
        assert 40 <= np.median(lm[:, 6, 0]-lm[:, 0, 0]) <= 64  # mouth width in pixels
    speakers = json.loads((out/'speakers.json').read_text())
    assert [s['name'] for s in speakers]==['s1', 's2', 's3', 's4'] and speakers[3]['split']=='unseen'
    splits = rows(out/'splits.tsv')
    assert [(r['id'], r['speaker']) for r in splits]==[(r['id'], r['speaker']) for r in tr]
    assert {r['split'] for r in splits if r['speaker']=='s4'}=={'unseen'}
    assert {r['split'] for r in splits if r['speaker']!='s4'} <= {'train', 'val', 'test'}

def test_same_header_as_real_grid(corpus, grid_root):
    out, _ = corpus
    assert ((out/'transcripts.tsv').read_text().splitlines()[0]
            == (grid_root/'transcripts.tsv').read_text().splitlines()[0])

def test_deterministic_whatever_the_workers(corpus, tmp_path):
    from l2s_nb.synthgrid import synthgrid
    out, _ = corpus
    synthgrid(tmp_path/'again', clips=6, speakers=4, seed=3, workers=1, progress=False)
    a, b = corpus_bytes(out), corpus_bytes(tmp_path/'again')
    assert a.keys()==b.keys() and len(a)==6*4+4
    assert [k for k in a if a[k]!=b[k]]==[]

def test_other_seed_differs(tmp_path):
    from l2s_nb.synthgrid import synthgrid
    synthgrid(tmp_path/'a', clips=1, speakers=1, seed=0, workers=1, progress=False)
    synthgrid(tmp_path/'b', clips=1, speakers=1, seed=1, workers=1, progress=False)
    assert corpus_bytes(tmp_path/'a')!=corpus_bytes(tmp_path/'b')

def test_interrupted_run_resumes(tmp_path):
    from l2s_nb.synthgrid import synthgrid
    out = tmp_path/'sg'
    synthgrid(out, clips=4, speakers=2, seed=0, workers=1, progress=False)
    before = corpus_bytes(out)
    tr = rows(out/'transcripts.tsv')
    (out/tr[0]['speaker']/'video'/f"{tr[0]['id']}.mp4").unlink()  # a clip whose last file never got written
    wav = out/tr[1]['speaker']/'audio'/f"{tr[1]['id']}.wav"
    wav.write_bytes(wav.read_bytes()[:1000])  # a file cut short outside our atomic writes
    stale = out/tr[2]['speaker']/'video'/f".{tr[2]['id']}.mp4.abc123.mp4.tmp"
    stale.write_bytes(b'half an mp4')  # a temporary left by a killed writer
    with (out/'.progress.tsv').open('a') as f: f.write('s1\tbbaf')  # a log line cut short
    summary = synthgrid(out, clips=4, speakers=2, seed=0, workers=1, progress=False)
    assert summary['made']==2 and summary['kept']==2
    assert not stale.exists()
    assert corpus_bytes(out)==before

def test_bad_inputs_give_clear_errors(tmp_path):
    (tmp_path/'file').write_text('x')
    cases = [(('--voices', 'en-us+m3,zz-zz'), "no voice 'zz-zz'"),
             (('--voices', 'en+nosuchvariant'), "no voice 'en+nosuchvariant'"),
             (('--clips', 0), 'clips must be 1..'),
             (('--speakers', 1, '--clips', 64001), 'clips must be 1..64000'),
             (('--speakers', 0), 'speakers must be 1..'),
             (('--frames', 10), 'frames must be >= 50'),
             (('--width', 175), 'frame size 175x144 is impossible'),
             (('--width', 32, '--height', 32), 'frame size 32x32 is impossible')]
    for args, msg in cases:
        r = l2s_synthgrid(tmp_path/'out', *args)
        assert r.returncode==2 and msg in r.stderr, (args, r.stderr)
        assert 'Traceback' not in r.stderr
    for bad in (tmp_path/'file', tmp_path/'file'/'sub'):
        r = l2s_synthgrid(bad, '--clips', 1)
        assert (r.returncode==2 and str(bad) in r.stderr
                and ('not a folder' in r.stderr or 'cannot write' in r.stderr)), r.stderr

@pytest.mark.skipif(os.name!='posix' or os.geteuid()==0, reason='needs a non-root POSIX user for permissions')
def test_unwritable_folder(tmp_path):
    ro = tmp_path/'ro'; ro.mkdir(); ro.chmod(0o500)
    try:
        r = l2s_synthgrid(ro/'sg', '--clips', 1)
        assert r.returncode==2 and 'cannot write the corpus there' in r.stderr, r.stderr
    finally: ro.chmod(0o700)

def test_other_arguments_on_existing_corpus_refused(tmp_path):
    from l2s_nb.synthgrid import synthgrid
    synthgrid(tmp_path/'sg', clips=1, speakers=1, seed=0, workers=1, progress=False)
    r = l2s_synthgrid(tmp_path/'sg', '--clips', 1, '--speakers', 1, '--seed', 5)
    assert (r.returncode==2 and 'made with' in r.stderr
            and 'use an empty folder or the same arguments' in r.stderr)
