"""Batching: classification clips and images (collate_samples), AVA's clips with boxes
(ava_collate, padding test clips), and which collate a data set needs."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.data import (
    Ava,
    ClipSampling,
    Normalization,
    SpatialSampling,
    ava_collate,
    collate_fn_for,
    collate_samples,
)

from .folders import AvaFolder

MEAN = (0.45, 0.45, 0.45)
STD = (0.225, 0.225, 0.225)


def make(ava: AvaFolder, split: str, **kwargs) -> Ava:
    """The tiny AVA set: 4 frames 2 apart, train crops 20 of 24-32 px, val/test 24 px."""
    kwargs = {"sampling": ClipSampling(4, 2), "spatial": SpatialSampling((24, 32), 20, 24),
              "normalization": Normalization(MEAN, STD), "alpha": 2, **kwargs}
    return Ava([ava.frame_list], [ava.gt], split, frame_dir=str(ava.frame_dir),
               label_map_pbtxt=ava.label_map, **kwargs)


def item(index: int, label, pathways: int = 1) -> dict:
    clip = torch.full((3, 4, 8, 8), float(index))
    return {"inputs": [clip] * pathways, "label": label, "index": index,
            "video_index": 10 + index, "view": index % 2}


# --------------------------------------------------------------------------------------
# Clips and images
# --------------------------------------------------------------------------------------
def test_collate_samples_stacks_pathways_and_int_labels() -> None:
    batch = collate_samples([item(0, 3, pathways=2), item(1, 1, pathways=2)])
    assert set(batch) == {"inputs", "label", "index", "video_index", "view"}
    assert len(batch["inputs"]) == 2 and batch["inputs"][0].shape == (2, 3, 4, 8, 8)
    assert batch["inputs"][1][1].eq(1).all()
    assert batch["label"].dtype == torch.long and batch["label"].tolist() == [3, 1]
    assert batch["video_index"].tolist() == [10, 11] and batch["view"].tolist() == [0, 1]
    assert all(batch[k].dtype == torch.long for k in ("index", "video_index", "view"))


def test_collate_samples_stacks_multi_hot_labels() -> None:
    labels = [torch.tensor([1.0, 0, 1]), torch.tensor([0.0, 1, 0])]
    batch = collate_samples([item(0, labels[0]), item(1, labels[1])])
    assert batch["label"].dtype == torch.float32 and batch["label"].shape == (2, 3)
    assert torch.equal(batch["label"], torch.stack(labels))
    # A 0-d tensor label (a class index) is an int label, not multi-hot.
    assert collate_samples([item(0, torch.tensor(2))])["label"].tolist() == [2]


def test_empty_batches_are_refused() -> None:
    for collate in (collate_samples, ava_collate):
        with pytest.raises(ValueError, match="empty batch"):
            collate([])


def test_collate_fn_for_picks_ava_collate_for_ava_only(ava: AvaFolder) -> None:
    assert collate_fn_for(make(ava, "val")) is ava_collate
    assert collate_fn_for([item(0, 1)]) is collate_samples  # any other data set


# --------------------------------------------------------------------------------------
# AVA
# --------------------------------------------------------------------------------------
def test_test_mode_keeps_the_whole_frame_and_collate_pads(ava: AvaFolder) -> None:
    ds = make(ava, "test", alpha=None)
    a, b = ds[0], ds[2]
    assert a["inputs"][0].shape == (3, 4, 24, 36)  # 32x48 scaled by 0.75, no crop
    assert b["inputs"][0].shape == (3, 4, 24, 31)  # 32x42
    torch.testing.assert_close(a["boxes"], torch.tensor([[13.5, 6, 27, 24], [0, 0, 9, 12]]))
    torch.testing.assert_close(b["boxes"], torch.tensor([[3.1, 6, 18.6, 18]]))
    batch = ava_collate([a, b])
    (clips,) = batch["inputs"]
    assert clips.shape == (2, 3, 4, 24, 36)
    torch.testing.assert_close(clips[1, ..., :31], b["inputs"][0])
    assert (clips[1, ..., 31:] == 0).all()


def test_collate_concatenates_boxes_with_batch_index(ava: AvaFolder) -> None:
    ds = make(ava, "val")
    samples = [ds[0], ds[2]]
    batch = ava_collate(samples)
    slow, fast = batch["inputs"]
    assert fast.shape == (2, 3, 4, 24, 24) and slow.shape == (2, 3, 2, 24, 24)
    torch.testing.assert_close(fast[1], samples[1]["inputs"][1])
    assert batch["boxes"].shape == (3, 5)
    assert batch["boxes"][:, 0].tolist() == [0, 0, 1]
    torch.testing.assert_close(
        batch["boxes"][:, 1:], torch.cat([samples[0]["boxes"], samples[1]["boxes"]])
    )
    assert batch["labels"].shape == (3, 4)
    assert batch["ori_boxes"].shape == (3, 4)
    assert batch["metadata"].tolist() == [[0, 902], [0, 902], [1, 903]]
    assert batch["index"].tolist() == [0, 2]


@pytest.mark.slow
def test_batch_feeds_the_video_detector(ava: AvaFolder) -> None:
    from mutualnet3d.models.slowfast import slowfast_tiny_detection

    ds = make(ava, "train", sampling=ClipSampling(8, 2), alpha=4,
              spatial=SpatialSampling((32, 40), 32, 24))
    batch = ava_collate([ds[i] for i in range(len(ds))])
    model = slowfast_tiny_detection(num_classes=ds.num_classes).eval()
    with torch.no_grad():
        logits = model(batch["inputs"], batch["boxes"])
    assert logits.shape == batch["labels"].shape == (4, 4)
    assert torch.isfinite(logits).all()
