("The interactive demo driven headlessly (widget values set from Python), its error messages, "
 "the lesson notebook and the static page.")
import html, shutil, subprocess, sys
from datetime import datetime, timezone
from pathlib import Path
import numpy as np, pytest, torch
from conftest import ROOT, l2s

torch.set_num_threads(1)
from l2s_nb.audio import save_audio
from l2s_nb.video import probe, write_video
from l2s_nb.demo import CHECKPOINTS, MODELS, Demo, DemoUI, corpus_clips, demo_corpus, static_page

LESSON = ROOT/'nbs'/'96_lesson.ipynb'

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    "A 9-clip SynthGRID corpus (the first clips of the quickstart's) and its held-out clips."
    root = demo_corpus(tmp_path_factory.mktemp('sg')/'synthgrid')
    return root, corpus_clips(root)

@pytest.fixture(scope='module')
def ui(corpus, tmp_path_factory):
    return DemoUI(Demo(out_dir=tmp_path_factory.mktemp('ui')), corpora={'SynthGRID': corpus[0]})

@pytest.fixture
def bad_files(tmp_path):
    "A text file named .mp4, a sound file, and a video without a face."
    (tmp_path/'notes.mp4').write_text('hello')
    save_audio(tmp_path/'speech.wav', (0.3*np.sin(np.arange(16000)/16000*2*np.pi*220)).astype(np.float32))
    write_video(tmp_path/'wall.mp4', np.full((25, 96, 96), 128, np.uint8))
    return [tmp_path/n for n in ('notes.mp4', 'speech.wav', 'wall.mp4')]

def upload(ui, path:Path):
    "What the browser's FileUpload sends for `path`."
    data = path.read_bytes()
    ui.upload.value = (dict(name=path.name, type='', size=len(data), content=memoryview(data),
                            last_modified=datetime.now(timezone.utc)),)

def test_demo_run_speaks_reads_scores_and_dubs(corpus):
    root, clips = corpus
    r = Demo(out_dir=root.parent/'out').run(clips[0][1])
    assert Path(r['checkpoint']).name == MODELS['synthgrid'] and r['judge'] == 'judge_synthgrid.pt'
    assert r['mel'].shape == (80, 300) and r['wav'].shape == (48000,) and r['rois'].shape == (75, 96, 96)
    assert (r['text'] == 'place red at n nine now' and r['lip_read'] and r['judge_words']
            and r['judge_ref_words'])
    assert {'stoi', 'estoi', 'pesq_wb', 'pesq_nb'} <= set(r['scores']) and 0 < r['scores']['stoi'] <= 1
    assert set(r['wer']) == {'lip_read', 'judge', 'judge_ref'}
    assert probe(r['mp4']).has_audio and probe(r['mp4']).n_frames == 75
    assert sum(r['times'].values()) < 30  # a few seconds on one core; generous on a busy machine

def test_ui_click_fills_every_output(ui, corpus):
    ui.clip.value = corpus[1][1][1]
    ui.vocoder.value = 'griffin_lim'
    ui.button.click()
    assert ui.error is None and ui.result['text'] == 'place red in x seven again'
    for w in (ui.frame, ui.strip, ui.mels): assert w.value[:4] == b'\x89PNG'
    for w in (ui.gen_audio, ui.ref_audio): assert w.value[:4] == b'RIFF'
    assert ui.video.value[4:8] == b'ftyp'
    assert 'STOI' in ui.words.value and 'place red in x seven again' in ui.words.value
    frame = ui.frame.value; ui.scrub.value = 3
    assert ui.frame.value != frame and ui.scrub.max == 74

def test_ui_menus_pick_model_and_judge(ui, corpus):
    ui.clip.value = corpus[1][0][1]
    ui.checkpoint.value, ui.judge.value = str(CHECKPOINTS/MODELS['grid']), str(CHECKPOINTS/'judge_grid_s1.pt')
    try:
        ui.button.click()
        assert (Path(ui.result['checkpoint']).name == MODELS['grid']
                and ui.result['judge'] == 'judge_grid_s1.pt')
    finally: ui.checkpoint.value = ui.judge.value = 'auto'

def test_ui_shows_the_cli_messages_for_bad_uploads(ui, bad_files, tmp_path):
    notes, speech, wall = bad_files
    info = l2s('info', notes)  # the command line's message for a file that is not media
    assert info.returncode == 2
    upload(ui, notes)
    assert ui.result is None and ui.results.layout.display == 'none'
    saved = ui.demo.out_dir/'uploads'/notes.name  # where the UI keeps an upload
    assert info.stderr.strip().replace(str(notes), str(saved)) == f'l2s info: error: {ui.error}'
    assert html.escape(ui.error, quote=False) in ui.status.value and 'Traceback' not in ui.status.value
    cli = l2s('infer', speech, wall, '--checkpoint', CHECKPOINTS/MODELS['synthgrid'], '--out', tmp_path/'o')
    assert cli.returncode == 2
    for f, expected in ((speech, 'has no video stream (it is audio only)'),
                        (wall, 'no face found in any of its 25 frames')):
        upload(ui, f)
        # same message, uploaded path aside
        assert expected in ui.error and ui.error.split(': ', 1)[1] in cli.stderr
    assert ui.upload.value == ()  # cleared for the next upload

def test_ui_upload_of_a_good_video(ui, corpus):
    upload(ui, corpus[1][0][1])
    r = ui.result
    # an upload has no transcript or recording
    assert ui.error is None and r['text'] is None and r['scores'] is None
    assert ui.gen_audio.value[:4] == b'RIFF' and ui.ref_audio.value == b''

def test_demo_on_grid(grid_root, tmp_path):
    clip = next(p for label, p in corpus_clips(grid_root.parent) if '(val)' in label)
    r = Demo(out_dir=tmp_path).run(clip)
    assert Path(r['checkpoint']).name == MODELS['grid'] and r['judge'] == 'judge_grid_s1.pt'
    assert r['landmarks'].shape[1:] == (68, 2) and r['scores']['stoi'] > 0.3 and r['text']

def test_lesson_is_executed_small_and_clean(tmp_path):
    import nbformat
    nb = nbformat.read(LESSON, as_version=4)
    kinds = [k for c in nb.cells if c.cell_type == 'code' for o in c.outputs for k in o.get('data', {})]
    assert kinds.count('image/png') >= 6 and 'text/html' in kinds
    assert LESSON.stat().st_size <= 1_000_000
    copy = shutil.copy(LESSON, tmp_path/LESSON.name)
    subprocess.run([Path(sys.executable).parent/'nbdev_clean', '--fname', copy], check=True, cwd=ROOT,
                   capture_output=True)
    assert Path(copy).read_text() == LESSON.read_text(), 'nbdev_clean would change the stored lesson'

def test_static_page_embeds_audio_and_figures(corpus, tmp_path):
    r = Demo(out_dir=tmp_path/'out').run(corpus[1][2][1])
    page = static_page(LESSON, tmp_path/'lesson.html', r).read_text()
    assert page.count('<audio controls') >= 8 and page.count('src="data:audio/mpeg;base64,') >= 8
    assert page.count('<img') >= 9 and page.count('src="data:image/png;base64,') >= 9
    assert 'src="http' not in page and 'import("http' not in page
    assert 'A demo run' in page and 'bin red in t three soon' in page
