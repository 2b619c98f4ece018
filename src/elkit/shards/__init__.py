"""Corpora as many shards: one output shard per input shard, written atomically, resumable, locally or on Ray."""

from elkit.shards.engine import RunSummary, ShardWorker, run_shards
from elkit.shards.files import SHARD_SUFFIXES, find_shards, output_path, read_shard, remove_partial, write_atomically
from elkit.shards.work import ShardJob, ShardSummary, kb_of, link_record, process_shard

__all__ = [
    "SHARD_SUFFIXES",
    "RunSummary",
    "ShardJob",
    "ShardSummary",
    "ShardWorker",
    "find_shards",
    "kb_of",
    "link_record",
    "output_path",
    "process_shard",
    "read_shard",
    "remove_partial",
    "run_shards",
    "write_atomically",
]
