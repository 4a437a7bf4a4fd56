"""ClipDataset, the base of Kinetics and Charades, on in-memory videos: views, the
split's crop checks, item keys, replacement of broken videos, seeding and pathways."""

from __future__ import annotations

from typing import Optional

import pytest
import torch

from mutualnet3d.data import (
    ClipDataset,
    ClipSampling,
    DecodeError,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    VideoDecodeWarning,
    pack_pathways,
)
from mutualnet3d.data.video_dataset import sample_generator

NORM = Normalization((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
SPATIAL = SpatialSampling(jitter_scales=(16, 20), crop_size=12, test_crop_size=16)


class Clips(ClipDataset):
    """``num`` videos of 10 gray 16x24 frames; video ``v``'s frames have level ``v``.

    Videos in ``broken`` raise DecodeError naming ``v.mp4``; ``calls`` records loads.
    """

    def __init__(self, split: str, num: int = 4, broken: tuple[int, ...] = (), **kwargs) -> None:
        self.num, self.broken, self.calls = num, set(broken), []
        kwargs = {"sampling": ClipSampling(4, 2), "spatial": SPATIAL, "views": TestViews(2, 3),
                  "normalization": NORM, "retry": RetryPolicy(), "alpha": None, "seed": 0,
                  **kwargs}
        super().__init__(split, source="clips.csv", **kwargs)

    @property
    def num_videos(self) -> int:
        return self.num

    def video_name(self, video: int) -> str:
        return f"v{video}.mp4"

    def load_clip(
        self, video: int, temporal: int, generator: Optional[torch.Generator]
    ) -> tuple[torch.Tensor, int]:
        self.calls.append((video, temporal))
        if video in self.broken:
            raise DecodeError(f"{video}.mp4", "no frames")
        return torch.full((4, 16, 24, 3), video, dtype=torch.uint8), 100 + video


def test_items_have_the_documented_keys_and_shapes() -> None:
    train = Clips("train", alpha=2)
    item = train[2]
    assert set(item) == {"inputs", "label", "index", "video_index", "view"}
    slow, fast = item["inputs"]
    assert fast.shape == (3, 4, 12, 12) and slow.shape == (3, 2, 12, 12)
    assert (item["label"], item["index"], item["video_index"], item["view"]) == (102, 2, 2, 0)
    # Normalised with the spec: level 2 of 255 -> (2 / 255 - 0.5) / 0.25.
    torch.testing.assert_close(fast, torch.full_like(fast, (2 / 255 - 0.5) / 0.25))
    assert len(train) == 4 and train.num_views == 1 and train.test_scale is None


def test_test_views_index_videos_then_temporal_then_spatial() -> None:
    test = Clips("test")
    assert len(test) == 4 * 6 and test.num_views == 6 and test.test_scale == 16
    assert [test.view_of(i) for i in (0, 1, 2, 3, 7, 23)] == [
        (0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (1, 0, 1), (3, 1, 2)]
    item = test[7]
    assert (item["video_index"], item["view"], item["index"]) == (1, 1, 7)
    assert item["inputs"][0].shape == (3, 4, 16, 16) and test.calls == [(1, 0)]
    one_crop = Clips("test", views=TestViews(3, 1))
    assert len(one_crop) == 12 and one_crop.view_of(5) == (1, 2, 1)  # the centre
    assert one_crop.test_scale == 16  # jitter_scales[0]
    assert Clips("val").view_of(3) == (3, -1, -1)


def test_split_dependent_crop_checks() -> None:
    with pytest.raises(ValueError, match="crop_size 17 exceeds jitter_scales\\[0\\] 16"):
        Clips("val", spatial=SpatialSampling((16, 20), 17, 16))
    Clips("test", spatial=SpatialSampling((16, 20), 17, 16))  # test does not crop crop_size
    with pytest.raises(ValueError, match="test_crop_size 18 exceeds the test short side 16"):
        Clips("test", spatial=SpatialSampling((16, 20), 12, 18), views=TestViews(2, 1))
    Clips("test", spatial=SpatialSampling((16, 20), 12, 18))  # 3 crops scale to 18 itself
    with pytest.raises(ValueError, match="split must be one of"):
        Clips("eval")
    with pytest.raises(ValueError, match="alpha must be in \\[1, num_frames=4\\], got 5"):
        Clips("train", alpha=5)
    with pytest.raises(IndexError, match="index 4 out of range for 4 samples"):
        Clips("train")[4]


@pytest.mark.parametrize("split", ["train", "val"])
def test_train_and_val_replace_a_broken_video_by_another(split: str) -> None:
    clips = Clips(split, broken=(1,), retry=RetryPolicy(10))
    with pytest.warns(VideoDecodeWarning, match="skipping video v1.mp4 .*1.mp4"):
        item = clips[1]
    assert item["video_index"] != 1 and item["index"] == item["video_index"]
    assert item["label"] == 100 + item["video_index"]
    assert clips.failures["1.mp4"] == clips.num_failures >= 1
    assert clips.calls[0] == (1, -1) and clips.calls[-1][0] == item["video_index"]


def test_test_retries_the_view_of_its_own_video() -> None:
    clips = Clips("test", broken=(1,), retry=RetryPolicy(2))
    with pytest.warns(VideoDecodeWarning), pytest.raises(RuntimeError, match="never replaced"):
        clips[10]  # video 1, temporal 1, spatial 1
    assert clips.calls == [(1, 1)] * 3 and clips.failures == {"1.mp4": 3}


def test_seeded_draws_are_a_function_of_seed_epoch_and_index() -> None:
    assert sample_generator(None, 0, 3) is None
    a, b = sample_generator(5, 1, 3), sample_generator(5, 1, 3)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    assert not torch.equal(torch.rand(4, generator=sample_generator(5, 2, 3)),
                           torch.rand(4, generator=sample_generator(5, 1, 3)))
    clips = Clips("train", broken=(0,), retry=RetryPolicy(10), seed=9)
    with pytest.warns(VideoDecodeWarning):
        first = clips[0]["video_index"]
    again = Clips("train", broken=(0,), retry=RetryPolicy(10), seed=9)
    with pytest.warns(VideoDecodeWarning):
        assert again[0]["video_index"] == first  # the same replacement in any process


def test_pack_pathways_takes_the_slow_frames_evenly() -> None:
    clip = torch.arange(8.0).view(1, 8, 1, 1)
    assert pack_pathways(clip, None) == [clip]
    slow, fast = pack_pathways(clip, 4)
    assert fast is clip and slow.flatten().tolist() == [0.0, 7.0]  # linspace(0, 7, 2)
    assert pack_pathways(clip, 1)[0].flatten().tolist() == list(range(8))
