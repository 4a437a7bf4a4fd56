"""The adaptive SlowFast: the Fast pathway stays plain."""

from mutualnet3d.models import get_model_builder
from mutualnet3d.slim import export_subnet


def test_slowfast_fast_pathway_never_slims():
    model = get_model_builder("slowfast_tiny")(num_classes=5, width_divisor=2)
    fast_params = {n: p.numel() for n, p in model.named_parameters() if "multipathway_blocks.1" in n
                   or "multipathway_fusion" in n}
    static = export_subnet(model, 0.5)
    static_params = dict((n, p.numel()) for n, p in static.named_parameters())
    assert all(static_params[n] == size for n, size in fast_params.items())
