("Integration tests of A/V sync in `l2s prep`: a SynthGRID clip shifted by a known amount, "
 "and GRID's original .mpg files.")
import json, logging, shutil
from pathlib import Path
import numpy as np, pytest
from l2s_nb.audio import load_audio, save_audio
from l2s_nb.corpora import read_tsv
from l2s_nb.prep import prep
from l2s_nb.synthgrid import synthgrid

def test_prep_reports_a_shifted_synthgrid_clip(tmp_path, caplog):
    ("Delaying one clip's sound by 8 frames (320 ms) shows up in the manifest and the summary; "
     "the others stay in sync.")
    root = tmp_path/'sg'; synthgrid(root, clips=4, speakers=1, workers=1, progress=False)
    wav_path = sorted((root/'s1'/'audio').glob('*.wav'))[0]; wav = load_audio(wav_path)
    save_audio(wav_path, np.concatenate([np.zeros(8*640, np.float32), wav])[:len(wav)])
    with caplog.at_level(logging.WARNING, 'l2s_nb'): s = prep('synthgrid', root, tmp_path/'cache', workers=0)
    offsets = {r['id']: int(r['av_offset']) for r in read_tsv(tmp_path/'cache'/'manifest.tsv')}
    assert abs(offsets.pop(wav_path.stem) - 8) <= 1 and all(abs(o) <= 1 for o in offsets.values()), offsets
    assert s['av_sync']['out_of_sync'] == 1 and f's1/{wav_path.stem}' in s['av_sync']['clips']
    assert f'{wav_path.stem}: sound' in caplog.text and 'frames late' in caplog.text
    assert json.loads((tmp_path/'cache'/'prep_summary.json').read_text())['av_sync'] == s['av_sync']

def test_prep_of_original_grid_mpg_is_in_sync(tmp_path, grid_root):
    ("GRID as distributed (.mpg with MP2 sound, alignments/): every trackable clip is cached "
     "within a frame of sync.")
    mpg = grid_root.parent/'s1_mpg'
    if not mpg.is_dir(): pytest.skip('../shared/grid/s1_mpg is absent')
    root = tmp_path/'GRID'; (root/'s1').mkdir(parents=True); (root/'alignments'/'s1').mkdir(parents=True)
    for p in sorted(mpg.glob('*.mpg')):
        (root/'s1'/p.name).symlink_to(p)
        shutil.copy(grid_root/'align'/f'{p.stem}.align', root/'alignments'/'s1')
    s = prep('grid', root, tmp_path/'cache', workers=2)
    rows = read_tsv(tmp_path/'cache'/'manifest.tsv')
    failed = {r['id']: r['reason'] for r in read_tsv(tmp_path/'cache'/'failed.tsv')}
    assert len(rows) + len(failed) == 21 and set(failed) <= {'pbio7a'}  # pbio7a's first 36 frames are damaged
    assert all(abs(int(r['av_offset'])) <= 1 for r in rows), {r['id']: r['av_offset'] for r in rows}
    assert s['av_sync']['median_by_speaker'] == {'s1': 0.0} and s['av_sync']['out_of_sync'] == 0
    assert sorted({int(r['n_frames']) for r in rows}) == [74, 75]
