"""Evaluation sharding over processes."""

from mutualnet3d.engine.distributed import ShardSampler


def test_shard_sampler_neither_drops_nor_repeats():
    for length in (0, 1, 7, 10):
        for world in (1, 2, 3):
            shards = [list(ShardSampler(length, rank, world)) for rank in range(world)]
            assert sorted(i for shard in shards for i in shard) == list(range(length))
            assert [len(ShardSampler(length, r, world)) for r in range(world)] == [
                len(s) for s in shards
            ]
