"""build_loader: batches of the collate a data set needs, shuffled or sharded."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

from mutualnet3d.data import (
    Ava,
    ClipSampling,
    Kinetics,
    Normalization,
    SpatialSampling,
    TestViews,
    ava_collate,
    build_loader,
    collate_samples,
)

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))


def make_dataset(folder, split: str, **kwargs) -> Kinetics:
    """The tiny Kinetics set: 8 frames, train/val crops 28 of 32-40 px, test crops 32."""
    return Kinetics(
        folder.csv(split), split, path_prefix=str(folder.prefix),
        sampling=ClipSampling(8, 2), spatial=SpatialSampling((32, 40), 28, 32),
        views=TestViews(2, 3), normalization=NORM, **kwargs,
    )


def test_build_loader_stacks_pathways_and_labels(kinetics_dir) -> None:
    dataset = make_dataset(kinetics_dir, "val", alpha=4, seed=0)
    loader = build_loader(dataset, 3, shuffle=False, num_workers=0, drop_last=False,
                          distributed=False)
    batches = list(loader)
    assert [len(b["label"]) for b in batches] == [3, 1]
    first = batches[0]
    assert [x.shape for x in first["inputs"]] == [(3, 3, 2, 28, 28), (3, 3, 8, 28, 28)]
    assert first["label"].dtype == torch.long
    assert first["label"].tolist() == kinetics_dir.labels[:3]
    assert first["video_index"].tolist() == [0, 1, 2] and first["view"].tolist() == [0, 0, 0]
    for j in range(3):
        sample = dataset[j]
        assert all(torch.equal(first["inputs"][p][j], sample["inputs"][p]) for p in range(2))
    shuffled = build_loader(dataset, 2, shuffle=True, num_workers=2, drop_last=True,
                            distributed=False)
    indices = sorted(i for b in shuffled for i in b["index"].tolist())
    assert indices == [0, 1, 2, 3]


def test_build_loader_distributed_uses_a_distributed_sampler(kinetics_dir, tmp_path) -> None:
    dataset = make_dataset(kinetics_dir, "val")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        loader = build_loader(dataset, 2, shuffle=True, num_workers=0, drop_last=False,
                              distributed=True)
        assert isinstance(loader.sampler, DistributedSampler)
        loader.sampler.set_epoch(1)
        assert sorted(i for b in loader for i in b["video_index"].tolist()) == [0, 1, 2, 3]
    finally:
        dist.destroy_process_group()


def test_build_loader_collates_each_data_set_as_its_items_need(kinetics_dir, ava) -> None:
    clips = build_loader(make_dataset(kinetics_dir, "val"), 2, shuffle=False, num_workers=0,
                         drop_last=False, distributed=False)
    assert clips.collate_fn is collate_samples
    detection = Ava([ava.frame_list], [ava.gt], "val", frame_dir=str(ava.frame_dir),
                    label_map_pbtxt=ava.label_map, sampling=ClipSampling(4, 2),
                    spatial=SpatialSampling((24, 32), 20, 24), normalization=NORM)
    loader = build_loader(detection, 2, shuffle=False, num_workers=0, drop_last=False,
                          distributed=False)
    assert loader.collate_fn is ava_collate
    batch = next(iter(loader))
    assert batch["boxes"].shape == (3, 5) and batch["boxes"][:, 0].tolist() == [0, 0, 1]
