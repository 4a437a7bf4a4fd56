"""build_dataset from a DatasetSpec: every data set name, with PySlowFast's per-split
rules (which file a split reads), and the spec's own checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from mutualnet3d.data import (
    DATASETS,
    Ava,
    AvaFiles,
    Charades,
    ClipSampling,
    ColorAugmentation,
    DatasetSpec,
    DigitImages,
    DigitsSettings,
    ImageFolderClassification,
    Kinetics,
    MovingDigits,
    Normalization,
    RetryPolicy,
    SpatialSampling,
    TestViews,
    build_dataset,
)

NORM = Normalization((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
CLIPS = dict(sampling=ClipSampling(4, 2), spatial=SpatialSampling((32, 40), 28, 32),
             views=TestViews(2, 3), normalization=NORM, retry=RetryPolicy(3, 0.5))


def test_kinetics_reads_the_csv_of_its_split(kinetics_dir) -> None:
    (kinetics_dir.root / "test.csv").write_text("videos/a.mp4 0\nvideos/b.mp4 1\n")
    spec = DatasetSpec(name="kinetics", root=str(kinetics_dir.root),
                       path_prefix=str(kinetics_dir.prefix), **CLIPS)
    train = build_dataset(spec, "train", alpha=2)
    assert isinstance(train, Kinetics) and train.csv_path == kinetics_dir.csv("train")
    assert (train.split, train.alpha, train.seed) == ("train", 2, None)
    assert (train.sampling, train.spatial, train.views, train.retry) == (
        spec.sampling, spec.spatial, spec.views, spec.retry)
    assert train.videos == kinetics_dir.paths
    test = build_dataset(spec, "test")
    assert len(test) == 2 * 6 and test.alpha is None
    assert [x.shape for x in train[0]["inputs"]] == [(3, 2, 28, 28), (3, 4, 28, 28)]


def test_kinetics_separator_comes_from_the_spec(kinetics_dir) -> None:
    (kinetics_dir.root / "val.csv").write_text("videos/a.mp4,1\n")
    spec = DatasetSpec(name="kinetics", root=str(kinetics_dir.root), separator=",",
                       path_prefix=str(kinetics_dir.prefix), **CLIPS)
    assert build_dataset(spec, "val").labels == [1]


def test_charades_test_reads_val(charades_dir) -> None:
    (charades_dir.root / "test.csv").write_text("not a frame list\n")
    spec = DatasetSpec(name="charades", root=str(charades_dir.root), num_classes=5,
                       path_prefix=str(charades_dir.prefix), **CLIPS)
    test = build_dataset(spec, "test")
    assert isinstance(test, Charades) and test.csv_path == charades_dir.csv("val")
    assert len(test) == 3 * 6 and test.num_classes == 5 and test.split == "test"
    assert test[0]["label"].shape == (5,)
    assert build_dataset(spec, "train").csv_path == charades_dir.csv("train")


def _ava_spec(ava, **files) -> DatasetSpec:
    files = AvaFiles(
        str(ava.frame_dir), str(ava.root), str(ava.root), train_lists=["val.csv"],
        test_lists=["val.csv"], train_gt_box_lists=["gt.csv"],
        train_predict_box_lists=["predicted.csv"], test_predict_box_lists=["predicted.csv"],
        detection_score_thresh=0.8, label_map_file="labels.pbtxt",
        exclusion_file="excluded.csv", groundtruth_file="gt.csv", **files,
    )
    return DatasetSpec(name="ava", sampling=ClipSampling(4, 2),
                       spatial=SpatialSampling((24, 32), 20, 24), normalization=NORM, ava=files)


def test_ava_train_and_test_read_their_lists_and_boxes(ava) -> None:
    spec = _ava_spec(ava)
    assert spec.ava.train_lists == ("val.csv",) and hash(spec)  # lists became tuples
    train = build_dataset(spec, "train", alpha=2)
    assert isinstance(train, Ava) and train.alpha == 2 and train.num_classes == 4
    assert train.samples == [(0, 902), (0, 903), (1, 903)]
    assert len(train.boxes[0]) == 3  # groundtruth A, B and the detected D
    test = build_dataset(spec, "test")
    assert test.samples == [(0, 902), (1, 903)]  # detections only: vidA 903's scored 0.5
    # Without test detections, val/test score the groundtruth boxes.
    full = replace(spec.ava, test_predict_box_lists=(), full_test_on_val=True)
    gt = build_dataset(replace(spec, ava=full), "val")
    assert gt.samples == [(0, 902), (0, 903), (1, 903)] and gt[0]["labels"].sum() == 3
    # PySlowFast validates on every 4th second unless AVA.FULL_TEST_ON_VAL: not 902, 903.
    with pytest.raises(ValueError, match="no key frame"):
        build_dataset(replace(spec, ava=replace(full, full_test_on_val=False)), "val")
    assert build_dataset(replace(spec, ava=replace(full, full_test_on_val=False)), "test")
    # The threshold is the spec's: at 0.9 vidB's detection (0.8) is dropped.
    strict = replace(spec, ava=replace(spec.ava, detection_score_thresh=0.9))
    assert build_dataset(strict, "test").samples == [(0, 902)]
    assert spec.ava.annotation("gt.csv") == str(ava.root / "gt.csv")


def _image_folder(root: Path) -> None:
    for split, classes in (("train", ("a", "b", "c")), ("val", ("a", "b"))):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            Image.new("RGB", (48, 40), (10, 20, 30)).save(root / split / name / "x.png")


@pytest.mark.parametrize("test_crop, resize", [(32, 37), (40, 40), (24, 37)])
def test_imagenet_folders_and_resize_rule(tmp_path: Path, test_crop: int, resize: int) -> None:
    _image_folder(tmp_path)
    spec = DatasetSpec(name="imagenet", root=str(tmp_path), normalization=NORM,
                       spatial=SpatialSampling(crop_size=32, test_crop_size=test_crop,
                                               random_flip=False),
                       retry=RetryPolicy(4, 0.5))
    train = build_dataset(spec, "train")
    assert isinstance(train, ImageFolderClassification) and train.num_classes == 3
    assert train.random_flip is False and train.crop_size == 32
    assert train.color == ColorAugmentation()  # off unless asked
    coloured = build_dataset(replace(spec, color=ColorAugmentation(0.4, 0.1)), "train")
    assert coloured.color == ColorAugmentation(0.4, 0.1)
    for split in ("val", "test"):
        evaluated = build_dataset(spec, split)
        assert evaluated.root == str(tmp_path / "val") and evaluated.num_classes == 2
        # TEST_CROP_SIZE when larger than the crop, else 32 / 0.875 = 36.6 -> 37.
        assert evaluated.resize_size == resize
        assert evaluated[0]["inputs"][0].shape == (3, 32, 32)
    # Failures are only counted for ImageNet (no failure ratio), retries as asked.
    assert train.retry == RetryPolicy(4, None)
    with pytest.raises(ValueError, match="imagenet has one pathway of images"):
        build_dataset(spec, "train", alpha=4)


def test_moving_digits_sizes_and_crops_per_split() -> None:
    spec = DatasetSpec(name="moving_digits", sampling=ClipSampling(6, 1), normalization=NORM,
                       spatial=SpatialSampling(crop_size=28, test_crop_size=32),
                       digits=DigitsSettings(num_train_clips=24, num_val_clips=12, size=32, seed=3))
    train, val, test = (build_dataset(spec, s, alpha=2) for s in ("train", "val", "test"))
    assert all(isinstance(d, MovingDigits) for d in (train, val, test))
    assert (len(train), len(val), len(test)) == (24, 12, 12)
    assert (train.seed, train.size, train.alpha) == (3, 32, 2)
    assert [x.shape for x in train[0]["inputs"]] == [(3, 3, 28, 28), (3, 6, 28, 28)]
    assert val[0]["inputs"][1].shape == (3, 6, 28, 28)  # val crops like train
    assert test[0]["inputs"][1].shape == (3, 6, 32, 32)  # test crops TEST_CROP_SIZE


def test_mnist_digits_are_images_of_the_crop_size() -> None:
    spec = DatasetSpec(name="mnist_digits", normalization=NORM,
                       spatial=SpatialSampling(crop_size=20))
    val = build_dataset(spec, "val")
    assert isinstance(val, DigitImages) and len(val) == 500
    assert val[0]["inputs"][0].shape == (3, 20, 20)
    # Normalised with the spec: the digit's background (level 0) is -mean / std.
    assert float(val[0]["inputs"][0].amin()) == pytest.approx(-0.45 / 0.225)
    with pytest.raises(ValueError, match="mnist_digits has one pathway"):
        build_dataset(spec, "val", alpha=2)


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"name": "ssv2"}, r"DatasetSpec.name must be one of kinetics, .*, got 'ssv2'"),
        ({"name": "Kinetics"}, "DatasetSpec.name must be one of"),  # names are lower case
        ({"name": "kinetics"}, "DatasetSpec.sampling is required for kinetics"),
        ({"name": "charades", "sampling": ClipSampling(4, 2)},
         "DatasetSpec.num_classes is required for charades"),
        ({"name": "ava", "sampling": ClipSampling(4, 2)}, "DatasetSpec.ava is required for ava"),
        ({"name": "moving_digits", "sampling": ClipSampling(4, 2)},
         "DatasetSpec.digits is required for moving_digits"),
        ({"name": "mnist_digits", "color": ColorAugmentation(jitter=0.4)},
         "DatasetSpec.color acts for imagenet only"),
    ],
)
def test_spec_refuses_what_its_data_set_cannot_do_without(fields: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DatasetSpec(normalization=NORM, **fields)


def test_spec_needs_a_normalization_and_build_a_split() -> None:
    with pytest.raises(TypeError, match="normalization"):
        DatasetSpec(name="imagenet")  # type: ignore[call-arg]
    for name in ("imagenet", "mnist_digits", "fashion_mnist"):
        DatasetSpec(name=name, normalization=NORM)  # nothing else needed
    assert set(DATASETS) == {"kinetics", "charades", "ava", "imagenet", "moving_digits",
                             "mnist_digits", "fashion_mnist"}
    with pytest.raises(ValueError, match="split must be one of"):
        build_dataset(DatasetSpec(name="mnist_digits", normalization=NORM), "holdout")
