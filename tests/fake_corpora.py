"""Tiny synthetic corpora for tests and notebook examples: short clips of a drifting portrait \
with a tone as sound track,
written in every folder layout `prep` reads. Import from notebooks with `sys.path.insert(0, '../tests')`."""
from pathlib import Path
import numpy as np
from l2s_nb.audio import save_audio
from l2s_nb.corpora import GRID_WORDS, Clip, ManifestError, grid_words, save_manifest, write_tsv
from l2s_nb.face import LIPS, default_tracker, portrait_frames
from l2s_nb.video import read_video, write_video

def tone(seconds:float, sr:int=16000, f0:float=220.)->np.ndarray:
    "A quiet harmonic tone (stands in for speech in fixtures)."
    t = np.arange(int(seconds*sr))/sr
    return (0.1*sum(np.sin(2*np.pi*f0*k*t)/k for k in (1, 2, 3))).astype(np.float32)

def write_clip(path, # destination video
               n_frames:int=20, # frames at 25 fps
               faces:tuple=((100,40,160),), # portraits (x, y, width) as in `portrait_frames`; () for none
               audio:bool=True, # mux a tone as the sound track
               audio_path=None, # also (or instead) write the tone to this .wav
               audio_seconds:float|None=None, # tone length (default: the video's)
               shape:tuple=(288,360), # frame size
              )->Path:
    "Write a short test clip: drifting portrait(s) at 25 fps with a tone."
    frames = portrait_frames(n_frames, shape, faces) if faces else np.full((n_frames, *shape), 128, np.uint8)
    wav = tone(audio_seconds if audio_seconds is not None else n_frames/25)
    if audio_path: save_audio(audio_path, wav)
    return write_video(path, frames, audio=wav if audio else None, threads=1)

def grid_id(k:int)->str:
    "A valid 6-letter GRID id for index `k` (same grammar as the corpus)."
    ids = [GRID_WORDS[0][k % 4][0], GRID_WORDS[1][k//4 % 4][0], GRID_WORDS[2][k//16 % 4][0],
           GRID_WORDS[3][k % 25], str(k % 10) if k % 10 else 'z', GRID_WORDS[5][k//7 % 4][0]]
    return ''.join(ids)

def make_layout(layout:str, # one of `l2s_nb.corpora.LAYOUTS`, or 'grid_shared' (the layout of ../shared/grid)
                root, # folder to create the corpus in
                n:int=3, # clips
                n_frames:int=15, # frames per clip
               )->Path:
    "Write a tiny corpus of `n` test clips in the folder layout of `layout`."
    root = Path(root); root.mkdir(parents=True, exist_ok=True)
    def lrs_text(p, text): p.with_suffix('.txt').write_text(f"Text:  {text.upper()}\nConf:  5\n")
    for k in range(n):
        gid = grid_id(k); text = grid_words(gid); folder = f"vid{k%2}"
        if layout == 'grid':  # the original distribution: .mpg with sound, separate .wav, alignments/
            write_clip(root/'s1'/f'{gid}.mp4', n_frames, audio_path=root/'audio_25k'/'s1'/f'{gid}.wav')
            (root/'s1'/f'{gid}.mp4').rename(root/'s1'/f'{gid}.mpg')
            words = text.split(); step = n_frames*1000//len(words)
            (root/'alignments'/'s1').mkdir(parents=True, exist_ok=True)
            (root/'alignments'/'s1'/f'{gid}.align').write_text(
                '\n'.join(f"{i*step} {(i+1)*step} {w}" for i,w in enumerate(['sil', *words]))+'\n')
        elif layout in ('grid_shared', 'synthgrid'):
            write_clip(root/'s1'/'video'/f'{gid}.mp4', n_frames, audio=False,
                       audio_path=root/'s1'/'audio'/f'{gid}.wav')
            if layout == 'synthgrid':
                lm = default_tracker()(read_video(root/'s1'/'video'/f'{gid}.mp4'))[:, LIPS]
                (root/'s1'/'landmarks').mkdir(exist_ok=True)
                np.save(root/'s1'/'landmarks'/f'{gid}.npy', lm.astype(np.float32))
        elif layout == 'lrs2':
            write_clip(p := root/'main'/folder/f'{k:05d}.mp4', n_frames); lrs_text(p, text)
        elif layout == 'lrs3':
            write_clip(p := root/('test' if k == 0 else 'trainval')/folder/f'{k:05d}.mp4', n_frames)
            lrs_text(p, text)
        elif layout == 'lrw':
            word = text.split()[0].upper()
            write_clip(p := root/word/('val' if k == 0 else 'train')/f'{word}_{k:05d}.mp4', n_frames)
            lrs_text(p, word)
        elif layout == 'lip2wav':
            write_clip(root/'chem'/'intervals'/folder/f'{k}.mp4', n_frames)
        elif layout == 'manifest':
            write_clip(root/'videos'/f'{gid}.mp4', n_frames)
        else: raise ManifestError(f"unknown layout {layout!r}")
    if layout in ('grid_shared', 'synthgrid'):
        ids = [grid_id(k) for k in range(n)]
        write_tsv(root/'transcripts.tsv',
                  [dict(id=i, speaker='s1', n_video_frames=n_frames, transcript=grid_words(i)) for i in ids],
                  ['id', 'speaker', 'n_video_frames', 'transcript'])
        if layout == 'synthgrid':
            write_tsv(root/'splits.tsv', [dict(id=i, speaker='s1', split='val' if k == 0 else 'train')
                                          for k,i in enumerate(ids)],
                      ['id', 'speaker', 'split'])
    if layout == 'lrs2':
        (root/'train.txt').write_text(''.join(f"vid{k%2}/{k:05d}\n" for k in range(1, n)))
        (root/'val.txt').write_text("vid0/00000\n")
    if layout == 'lip2wav':
        (root/'chem'/'train.txt').write_text(''.join(f"vid{k%2}/{k}\n" for k in range(1, n)))
        (root/'chem'/'test.txt').write_text("vid0/0\n")
    if layout == 'manifest':
        save_manifest([Clip(grid_id(k), 'me', 'train', f'videos/{grid_id(k)}.mp4',
                            transcript=grid_words(grid_id(k))) for k in range(n)],
                      root/'manifest.tsv')
    return root

def fake_cache(folder, # new folder for the format-1 cache
               n:int=3, # clips (the first is 'val', the rest 'train')
               frames:int=20, # frames per clip
               region:str='mouth', # the region the cache says its crops show
               # also write each clip's recording (a tone) here as a manifest-layout corpus; mels made from it
               corpus=None,
              )->Path:
    ("A format-1 prep cache written as `prep` would: portrait crops, random mels (or the corpus's), "
     "manifest, prep_config.json.")
    from l2s_nb.audio import load_audio, log_mel
    from l2s_nb.cache import cache_config, save_record
    from l2s_nb.config import AudioConfig, VideoConfig
    folder, cfg, rows, rng = (Path(folder), cache_config(AudioConfig(), VideoConfig(region=region)), [],
                              np.random.default_rng(0))
    face, clips = portrait_frames(frames + n), []
    for k in range(n):
        split = 'val' if k == 0 else 'train'
        mel = rng.normal(-5, 2, (80, 4*frames))
        if corpus is not None:
            path = save_audio(Path(corpus)/'audio'/f'c{k}.wav', tone(frames/25, f0=140. + 30*k))
            mel = log_mel(load_audio(path))[:, :4*frames]  # from the file, as prep reads it
            clips.append(Clip(f'c{k}', 's1', split, f'video/c{k}.mp4', f'audio/c{k}.wav',
                              transcript=f'clip {k}'))
        save_record(folder/'s1'/f'c{k}.npz', dict(mouth=face[k:k+frames, 120:216, 132:228], text=f'clip {k}',
                                                  speaker='s1', mel=mel.astype(np.float16), id=f'c{k}',
                                                  config=cfg))
        rows.append(dict(id=f'c{k}', speaker='s1', split=split, n_frames=frames, path=f's1/c{k}.npz',
                         transcript=f'clip {k}', n_lost=0, jitter=0.1, av_offset=0, av_corr=0.5))
    write_tsv(folder/'manifest.tsv', rows, list(rows[0]))
    (folder/'prep_config.json').write_text(cfg)
    if corpus is not None: save_manifest(clips, Path(corpus)/'manifest.tsv')
    return folder
