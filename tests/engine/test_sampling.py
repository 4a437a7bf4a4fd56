"""The cohort sampler: the model's full configuration first, then the students."""

import pytest

from mutualnet3d.engine import ConfigSampler, SubnetConfig

FULL = SubnetConfig(1.0, 224, 8)


def test_sampler_full_network_first_then_smallest_then_random():
    sampler = ConfigSampler(FULL, 0.63, [224, 178, 142], [8, 5, 3], num_random=2, seed=1)
    seen_spatial, seen_temporal = set(), set()
    for step in range(200):
        configs = sampler.sample(step)
        assert configs[0] == SubnetConfig(1.0, 224, 8)  # always full width and size
        assert configs[1].width == 0.63 and len(configs) == 4
        for c in configs[1:]:
            assert (
                0.63 <= c.width <= 1.0 and c.spatial in (224, 178, 142) and c.temporal in (8, 5, 3)
            )
            seen_spatial.add(c.spatial)
            seen_temporal.add(c.temporal)
    assert seen_spatial == {224, 178, 142} and seen_temporal == {8, 5, 3}
    assert sampler.sample(5) == sampler.sample(5) and sampler.sample(5) != sampler.sample(6)


def test_the_full_network_is_the_models_even_when_the_students_are_all_smaller():
    # One definition of the full configuration: the model's, not the largest listed size.
    sampler = ConfigSampler(FULL, 0.5, [160, 128], [4, 2], num_random=1)
    for step in range(20):
        full, *students = sampler.sample(step)
        assert full == FULL
        assert all(c.spatial in (160, 128) and c.temporal in (4, 2) for c in students)


def test_empty_size_lists_mean_the_full_size_and_images_have_no_frames():
    images = ConfigSampler(SubnetConfig(1.0, 224), 0.25, num_random=3)
    assert {(c.spatial, c.temporal) for c in images.sample(0)} == {(224, None)}


def test_sampler_baselines():
    usnet = ConfigSampler(SubnetConfig(1.0, 224), 0.25, [224, 128], num_random=2, mode="width_only")
    for step in range(20):
        assert {(c.spatial, c.temporal) for c in usnet.sample(step)} == {(224, None)}
    multiscale = ConfigSampler(
        SubnetConfig(1.0, 224), 0.25, [224, 192, 160, 128], num_random=2, mode="shared_resolution"
    )
    sizes = set()
    for step in range(50):
        configs = multiscale.sample(step)
        assert configs[0].width == 1.0 and len({c.spatial for c in configs}) == 1
        sizes.add(configs[0].spatial)
    assert sizes == {224, 192, 160, 128}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="bogus"), "sampling mode"),
        (dict(min_width=0.0), "min_width"),
        (dict(spatial_sizes=[256]), r"spatial sizes \[256\] exceed the full 224"),
        (dict(temporal_sizes=[16]), r"temporal sizes \[16\] exceed the full 8"),
    ],
)
def test_sampler_refuses_what_the_full_network_cannot_give(kwargs, message):
    arguments = {"full": FULL, "min_width": 0.5, **kwargs}
    with pytest.raises(ValueError, match=message):
        ConfigSampler(**arguments)


@pytest.mark.parametrize("mode", ["mutual", "width_only", "shared_resolution"])
def test_expected_cost_is_the_mean_cost_of_the_cohorts_drawn(mode):
    # A cost quadratic in the width (as FLOPs), times the pixels and frames.
    def cost(c: SubnetConfig) -> float:
        return c.width**2 * c.spatial**2 * c.temporal

    full = SubnetConfig(1.0, 224, 8)
    sampler = ConfigSampler(full, 0.63, (224, 178, 142), (8, 5, 3), 1, mode, seed=3)
    expected = sampler.expected_cost(cost)
    steps = 10_000
    drawn = sum(sum(cost(c) for c in sampler.sample(s)) for s in range(steps)) / steps
    assert expected == pytest.approx(drawn, rel=0.02)
    # And by hand for the mutual cohort: full + smallest + one random width.
    if mode == "mutual":
        sizes = sum(s**2 * t for s in (224, 178, 142) for t in (8, 5, 3)) / 9
        mean_w2 = (1.0**3 - 0.63**3) / (3 * (1.0 - 0.63))  # E[w^2], w ~ U[0.63, 1]
        assert expected == pytest.approx(224**2 * 8 + (0.63**2 + mean_w2) * sizes, rel=1e-9)
