"""Transforms of (C, T, H, W) clips: scales, crops, flips, normalisation, PCA lighting."""

from __future__ import annotations

import pytest
import torch

from mutualnet3d.data import transforms as T


def test_short_side_scale_keeps_the_aspect_ratio() -> None:
    landscape = torch.rand(3, 2, 48, 64)
    assert T.short_side_scale(landscape, 32).shape == (3, 2, 32, 42)  # floor(64 * 32 / 48)
    assert T.short_side_scale(landscape.transpose(2, 3), 32).shape == (3, 2, 42, 32)
    assert T.short_side_scale(landscape, 48) is landscape
    flat = torch.full((3, 2, 48, 64), 0.3)
    assert torch.allclose(T.short_side_scale(flat, 40), torch.tensor(0.3))
    sizes = {min(T.random_short_side_scale(landscape, 32, 34).shape[-2:]) for _ in range(40)}
    assert sizes == {32, 33, 34}


def test_uniform_crop_takes_left_centre_right_and_top_centre_bottom() -> None:
    cols = torch.arange(20.0).expand(1, 1, 10, 20)  # value = column
    assert [int(T.uniform_crop(cols, 10, i)[..., 0, 0]) for i in range(3)] == [0, 5, 10]
    assert T.uniform_crop(cols, 10, 1).shape == (1, 1, 10, 10)
    rows = torch.arange(21.0).view(21, 1).expand(1, 1, 21, 10)  # portrait, value = row
    assert [int(T.uniform_crop(rows, 10, i)[..., 0, 0]) for i in range(3)] == [0, 6, 11]
    assert int(T.center_crop(cols, 10)[..., 0, 0]) == 5
    with pytest.raises(ValueError, match="does not fit"):
        T.uniform_crop(cols, 11, 1)


def test_random_crop_reaches_every_offset_and_flip_mirrors() -> None:
    cols = torch.arange(12.0).expand(3, 2, 10, 12)
    generator = torch.Generator().manual_seed(0)
    offsets = {int(T.random_crop(cols, 10, generator)[0, 0, 0, 0]) for _ in range(60)}
    assert offsets == {0, 1, 2}
    flipped = T.horizontal_flip(cols)
    assert flipped[..., 0].eq(11).all() and flipped[..., -1].eq(0).all()
    assert torch.equal(T.random_horizontal_flip(cols, p=1.0), flipped)
    assert torch.equal(T.random_horizontal_flip(cols, p=0.0), cols)


def test_normalize_is_per_channel() -> None:
    clip = torch.ones(3, 2, 4, 4) * torch.tensor([0.2, 0.5, 0.8]).view(3, 1, 1, 1)
    out = T.normalize(clip, (0.2, 0.4, 0.6), (0.1, 0.2, 0.4))
    assert torch.allclose(out[:, 0, 0, 0], torch.tensor([0.0, 0.5, 0.5]))
    frames = torch.full((2, 4, 5, 3), 255, dtype=torch.uint8)
    assert T.to_float_clip(frames).shape == (3, 2, 4, 5)
    assert T.to_float_clip(frames).max() == 1.0


# AlexNet's PCA of ImageNet's RGB pixels (fb.resnet.torch; the official MutualNet code).
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def test_lighting_adds_one_rgb_offset_drawn_from_the_generator() -> None:
    image = torch.rand(3, 6, 5)
    out = T.lighting(image, 0.1, EIGVAL, EIGVEC, torch.Generator().manual_seed(3))
    alpha = torch.randn(3, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.1
    expected = torch.tensor(EIGVEC, dtype=torch.float64) @ (alpha * torch.tensor(EIGVAL).double())
    offset = out - image
    # One offset per channel, the same at every pixel: eigvec @ (alpha * eigval).
    torch.testing.assert_close(offset, expected.float().view(3, 1, 1).expand_as(image))
    again = T.lighting(image, 0.1, EIGVAL, EIGVEC, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)  # deterministic given the generator
    other = T.lighting(image, 0.1, EIGVAL, EIGVEC, torch.Generator().manual_seed(4))
    assert not torch.equal(out, other)
    assert T.lighting(image, 0.0, EIGVAL, EIGVEC) is image
    clip = torch.rand(3, 4, 5, 5)  # (C, T, H, W): one offset for the whole clip
    moved = T.lighting(clip, 0.1, EIGVAL, EIGVEC) - clip
    torch.testing.assert_close(moved, moved[:, :1, :1, :1].expand_as(clip))
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        T.lighting(torch.rand(1, 4, 4), 0.1, EIGVAL, EIGVEC)


def test_lighting_alphas_have_the_asked_std() -> None:
    transform = T.Lighting(0.1, EIGVAL, EIGVEC, generator=torch.Generator().manual_seed(0))
    image = torch.zeros(3, 1, 1, dtype=torch.float64)
    offsets = torch.stack([transform(image).view(3) for _ in range(4000)])
    # The components' coefficients (eigvec's columns are orthonormal) over eigval: alphas.
    alphas = offsets @ torch.tensor(EIGVEC, dtype=torch.float64) / torch.tensor(EIGVAL).double()
    assert alphas.mean(0).abs().max() < 0.01
    torch.testing.assert_close(
        alphas.std(0), torch.full((3,), 0.1, dtype=torch.float64), rtol=0.05, atol=0
    )
    # The RGB offsets: about 0.58 x 0.1 x 0.2175 = 0.013 per channel (the leading component).
    assert 0.01 < float(offsets.std(0).min()) < float(offsets.std(0).max()) < 0.02
    with pytest.raises(ValueError, match="alpha_std must be >= 0"):
        T.Lighting(-0.1, EIGVAL, EIGVEC)
    with pytest.raises(ValueError, match="3x3 eigenvectors"):
        T.Lighting(0.1, EIGVAL, EIGVEC[:2])
