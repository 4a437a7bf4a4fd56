"""Image folder classification: listing and labels, train / val transforms, broken files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from mutualnet3d.data import ColorAugmentation, Normalization, RetryPolicy, collate_samples
from mutualnet3d.data.imagenet import ImageDecodeWarning, ImageFolderClassification
from mutualnet3d.data.transforms import Lighting

MEAN = (0.5, 0.4, 0.3)
STD = (0.25, 0.2, 0.1)
STEP = 5  # ramp images: level of column x is STEP * x (x < 48 keeps levels <= 235)


def ramp(height: int, width: int) -> torch.Tensor:
    """uint8 (3, H, W) image whose level is ``STEP * column`` in every channel."""
    row = (torch.arange(width) * STEP).to(torch.uint8)
    return row.expand(3, height, width).contiguous()


def solid(height: int, width: int, rgb: tuple[int, int, int]) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, height, width).contiguous()


def write(image: torch.Tensor, path: Path) -> None:
    """Save a uint8 (3, H, W) tensor; the format follows the file ending (JPEG quality 95)."""
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path, quality=95)


def levels(image: torch.Tensor) -> torch.Tensor:
    """Normalised (3, H, W) -> pixel levels 0-255 per channel."""
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (image * std + mean) * 255


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """2 classes x 3 images; "cat" (label 0) is written second to check the sorting.

    dog: a lossless 32x48 ramp (PNG), a portrait solid PNG, a landscape solid JPEG;
    cat: two solid PNGs and a JPEG. Solid colours are per class, so labels are visible.
    """
    root = tmp_path / "images"
    dog, cat = root / "dog", root / "cat"
    dog.mkdir(parents=True)
    write(ramp(32, 48), dog / "a_ramp.png")
    write(solid(60, 40, (200, 20, 20)), dog / "b_portrait.png")
    write(solid(40, 60, (200, 20, 20)), dog / "c_landscape.JPEG")
    cat.mkdir()
    write(solid(36, 36, (20, 200, 20)), cat / "a.png")
    write(solid(50, 70, (20, 200, 20)), cat / "b.png")
    write(solid(70, 50, (20, 200, 20)), cat / "c.jpg")
    (cat / "notes.txt").write_text("not an image")  # ignored: not an image ending
    return root


def make(root: Path, split: str, **kwargs) -> ImageFolderClassification:
    kwargs = {"crop_size": 32, "resize_size": 32, "normalization": Normalization(MEAN, STD),
              **kwargs}
    return ImageFolderClassification(root, split, **kwargs)


def index_of(dataset: ImageFolderClassification, name: str) -> int:
    return next(i for i, (path, _) in enumerate(dataset.samples) if path.endswith(name))


# --------------------------------------------------------------------------------------
# Listing and labels
# --------------------------------------------------------------------------------------
def test_classes_sorted_and_listing_matches_torchvision_image_folder(folder: Path) -> None:
    dataset = make(folder, "val")
    reference = ImageFolder(str(folder))
    assert dataset.classes == ["cat", "dog"] == reference.classes
    assert dataset.class_to_idx == {"cat": 0, "dog": 1}
    assert dataset.samples == reference.samples
    assert len(dataset) == 6 and dataset.num_classes == 2


def test_val_samples_have_the_documented_format_and_labels(folder: Path) -> None:
    dataset = make(folder, "val")
    for i in range(len(dataset)):
        sample = dataset[i]
        assert set(sample) == {"inputs", "label", "index", "video_index", "view"}
        (image,) = sample["inputs"]
        assert image.shape == (3, 32, 32) and image.dtype == torch.float32
        assert sample["index"] == sample["video_index"] == i and sample["view"] == 0
        # Solid images reveal their class: red -> dog (1), green -> cat (0).
        if "ramp" not in dataset.samples[i][0]:
            red, green, _ = levels(image).mean(dim=(1, 2)).tolist()
            assert sample["label"] == (1 if red > green else 0)
            assert abs(max(red, green) - 200) < 3 and abs(min(red, green) - 20) < 3  # JPEG


def test_val_resizes_short_side_then_centre_crops_and_normalises(folder: Path) -> None:
    index = index_of(make(folder, "val"), "a_ramp.png")
    # Short side already 32: only the centre crop acts; columns 8..39 of 48 remain.
    image = make(folder, "val", crop_size=32, resize_size=32)[index]["inputs"][0]
    expected = (torch.arange(8, 40) * STEP).float().expand(3, 32, 32)
    torch.testing.assert_close(levels(image), expected, atol=1e-3, rtol=0)
    # Short side 32 -> 16 (48 -> 24 columns, 2 source columns each), centre 8 columns:
    # the middle of the ramp, twice as steep as without the resize.
    small = levels(make(folder, "val", crop_size=8, resize_size=16)[index]["inputs"][0])
    assert small.shape == (3, 8, 8)
    assert abs(small.mean().item() - STEP * 23.5) < 2
    assert abs((small[:, :, -1] - small[:, :, 0]).mean().item() - 7 * 2 * STEP) < 3
    # Deterministic.
    torch.testing.assert_close(make(folder, "val")[index]["inputs"][0], image)


def test_train_random_resized_crop_and_flip(folder: Path) -> None:
    torch.manual_seed(0)
    flipping = make(folder, "train", crop_size=16)
    index = index_of(flipping, "a_ramp.png")
    rows = [flipping[index]["inputs"][0][0, 8] for _ in range(40)]
    assert all(row.shape == (16,) for row in rows)
    slopes = [float(row[-1] - row[0]) for row in rows]
    assert any(s > 0 for s in slopes) and any(s < 0 for s in slopes)  # flipped and not
    assert len({round(abs(s), 3) for s in slopes}) > 5  # crops of varying scale

    fixed = make(folder, "train", crop_size=16, random_flip=False)
    for _ in range(20):
        row = fixed[index]["inputs"][0][0, 8]
        assert torch.all(row[1:] - row[:-1] >= -1e-4)  # the ramp keeps its direction


def test_samples_batch_with_collate_samples(folder: Path) -> None:
    loader = DataLoader(make(folder, "train"), batch_size=4, collate_fn=collate_samples)
    batch = next(iter(loader))
    assert len(batch["inputs"]) == 1 and batch["inputs"][0].shape == (4, 3, 32, 32)
    assert batch["label"].dtype == torch.long and batch["view"].tolist() == [0] * 4


# --------------------------------------------------------------------------------------
# Broken files and bad folders
# --------------------------------------------------------------------------------------
def test_corrupt_image_warns_counts_and_is_replaced(folder: Path) -> None:
    broken = folder / "dog" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG")
    dataset = make(folder, "val")
    bad = index_of(dataset, "broken.jpg")
    torch.manual_seed(0)
    with pytest.warns(ImageDecodeWarning, match="broken.jpg"):
        sample = dataset[bad]
    assert sample["index"] != bad and sample["index"] == sample["video_index"]
    assert sample["label"] == dataset.targets[sample["index"]]
    assert dataset.failures[str(broken)] >= 1
    assert dataset.num_failures == dataset.failures[str(broken)]


def test_test_mode_never_replaces_an_image(folder: Path) -> None:
    broken = folder / "cat" / "broken.png"
    broken.write_bytes(b"")  # empty file
    dataset = make(folder, "test", retry=RetryPolicy(2))
    with pytest.warns(ImageDecodeWarning), pytest.raises(RuntimeError, match="broken.png"):
        dataset[index_of(dataset, "broken.png")]
    assert dataset.failures == {str(broken): 3}  # the attempt and 2 retries


def test_all_images_broken_raises_after_max_retries(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(b"garbage")
    dataset = make(tmp_path, "train", retry=RetryPolicy(4))
    with pytest.warns(ImageDecodeWarning), pytest.raises(RuntimeError, match="4 retries"):
        dataset[0]
    assert dataset.num_failures == 5


def test_empty_class_folder_is_an_error_naming_it(folder: Path) -> None:
    (folder / "empty_class").mkdir()
    (folder / "empty_class" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="empty_class"):
        make(folder, "train")


def test_empty_root_is_an_error_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "nothing_here"
    root.mkdir()
    (root / "stray.png").write_bytes(b"")  # files directly in root are no classes
    with pytest.raises(ValueError, match="nothing_here"):
        make(root, "val")
    with pytest.raises(FileNotFoundError, match="missing"):
        make(tmp_path / "missing", "val")


def test_bad_arguments_are_rejected(folder: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        make(folder, "training")
    with pytest.raises(ValueError, match="exceeds"):
        make(folder, "val", crop_size=40, resize_size=32)


def test_odd_but_valid_files_decode_and_truncated_ones_fail(folder: Path) -> None:
    """Grayscale, CMYK and a PNG named .JPEG decode to RGB; a truncated JPEG is broken."""
    gray = Image.fromarray(solid(40, 40, (90, 90, 90))[0].numpy())  # mode "L"
    gray.save(folder / "cat" / "d_gray.png")
    gray.convert("CMYK").save(folder / "cat" / "e_cmyk.jpg", quality=95)
    gray.save(folder / "cat" / "f_png_named.JPEG", format="PNG")
    data = (folder / "dog" / "c_landscape.JPEG").read_bytes()
    (folder / "dog" / "d_truncated.jpg").write_bytes(data[: len(data) // 2])
    dataset = make(folder, "val")
    for name in ("d_gray.png", "e_cmyk.jpg", "f_png_named.JPEG"):
        image = dataset[index_of(dataset, name)]["inputs"][0]
        assert image.shape == (3, 32, 32)
        channel_levels = levels(image).mean(dim=(1, 2))
        torch.testing.assert_close(channel_levels, torch.full((3,), 90.0), atol=3, rtol=0)
    truncated = index_of(dataset, "d_truncated.jpg")
    with pytest.warns(ImageDecodeWarning, match="d_truncated.jpg"):
        assert dataset[truncated]["index"] != truncated


def test_max_failure_ratio_stops_a_broken_folder(folder: Path) -> None:
    for name in ("a_ramp.png", "b_portrait.png"):
        (folder / "dog" / name).write_bytes(b"")
    dataset = make(folder, "val", retry=RetryPolicy(10, max_failure_ratio=0.2))
    torch.manual_seed(0)
    with pytest.warns(ImageDecodeWarning), pytest.raises(RuntimeError, match="max_failure_ratio"):
        for name in ("a_ramp.png", "b_portrait.png"):  # 2 of 6 images > 0.2
            dataset[index_of(dataset, name)]
    assert make(folder, "val").retry == RetryPolicy()  # off unless asked


# --------------------------------------------------------------------------------------
# Colour augmentation (the official MutualNet recipe: jitter 0.4, lighting 0.1)
# --------------------------------------------------------------------------------------
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))


@pytest.mark.slow  # many images for the offsets' std
def test_train_lighting_adds_a_per_image_rgb_offset(folder: Path) -> None:
    color = ColorAugmentation(lighting_std=0.1, eigval=EIGVAL, eigvec=EIGVEC)
    plain = make(folder, "train", crop_size=16)
    lit = make(folder, "train", crop_size=16, color=color)
    index = index_of(plain, "a_ramp.png")
    std = torch.tensor(STD).view(3, 1, 1)
    alphas = []
    for seed in range(300):
        torch.manual_seed(seed)  # the same crop and flip, drawn before the noise
        before = plain[index]["inputs"][0]
        torch.manual_seed(seed)
        after = lit[index]["inputs"][0]
        offset = (after - before) * std  # in [0, 1] pixel units
        torch.testing.assert_close(offset, offset[:, :1, :1].expand_as(offset), atol=1e-5, rtol=0)
        alphas.append(torch.tensor(EIGVEC).T @ offset[:, 0, 0] / torch.tensor(EIGVAL))
    alphas = torch.stack(alphas)
    assert alphas.mean(0).abs().max() < 0.03
    # alpha ~ N(0, 0.1) per component (the smallest eigenvalue's recovered less exactly).
    assert torch.allclose(alphas.std(0), torch.full((3,), 0.1), rtol=0.2)
    # Evaluation images are never coloured.
    val = make(folder, "val", color=color)
    assert torch.equal(val[index]["inputs"][0], make(folder, "val")[index]["inputs"][0])


def test_train_colour_jitter_is_torchvision_s_at_the_asked_strength(tmp_path: Path) -> None:
    (tmp_path / "grey").mkdir()
    write(solid(24, 24, (100, 100, 100)), tmp_path / "grey" / "a.png")
    dataset = make(tmp_path, "train", crop_size=16, color=ColorAugmentation(jitter=0.4))
    jitters = [t for t in dataset.transform.transforms if isinstance(t, v2.ColorJitter)]
    assert len(jitters) == 1
    jitter = jitters[0]
    for factors in (jitter.brightness, jitter.contrast, jitter.saturation):
        assert tuple(factors) == pytest.approx((0.6, 1.4))
    assert jitter.hue is None
    assert not any(isinstance(t, Lighting) for t in dataset.transform.transforms)
    # A grey image: contrast and saturation leave it (but for a level lost to each op's
    # rounding to uint8), brightness scales it by U[0.6, 1.4].
    torch.manual_seed(0)
    ratios = torch.stack([levels(dataset[0]["inputs"][0]).mean((1, 2)) / 100 for _ in range(400)])
    assert torch.equal(ratios, ratios[:, :1].expand_as(ratios))  # stays grey
    assert 0.57 <= float(ratios.min()) < 0.65 and 1.35 < float(ratios.max()) <= 1.41
    assert abs(float(ratios.mean()) - 1.0) < 0.03
    torch.manual_seed(5)
    first = dataset[0]["inputs"][0]
    torch.manual_seed(5)
    assert torch.equal(first, dataset[0]["inputs"][0])  # deterministic given the seed


def test_colour_augmentation_is_off_by_default(folder: Path) -> None:
    dataset = make(folder, "train")
    kinds = [type(t) for t in dataset.transform.transforms]
    assert v2.ColorJitter not in kinds and Lighting not in kinds
    assert dataset.color == ColorAugmentation() and not dataset.color.enabled
