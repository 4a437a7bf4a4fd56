"""Config defaults: PySlowFast's nodes and values, the MUTUALNET node, fresh copies."""

from __future__ import annotations

from mutualnet3d.config import get_cfg, load_config, validate_cfg
from mutualnet3d.models import describe_model, model_kwargs

NODES = (
    "TRAIN", "TEST", "DATA", "MODEL", "RESNET", "SLOWFAST", "X3D", "SOLVER", "BN",
    "DATA_LOADER", "AVA", "DETECTION", "TENSORBOARD", "MUTUALNET",
)  # fmt: skip
SCALARS = (
    "NUM_GPUS", "NUM_SHARDS", "SHARD_ID", "RNG_SEED", "OUTPUT_DIR", "LOG_PERIOD",
    "LOG_MODEL_INFO", "DIST_BACKEND",
)  # fmt: skip


def test_defaults_have_pyslowfast_nodes_and_values():
    cfg = get_cfg()
    for name in NODES:
        assert name in cfg and isinstance(cfg[name], type(cfg)), name
    for name in SCALARS:
        assert name in cfg and not isinstance(cfg[name], type(cfg)), name
    expected = {
        "NUM_GPUS": 1, "NUM_SHARDS": 1, "SHARD_ID": 0, "RNG_SEED": 1,
        "DIST_BACKEND": "nccl", "SLOWFAST.ALPHA": 8, "SLOWFAST.BETA_INV": 8,
        "SLOWFAST.FUSION_CONV_CHANNEL_RATIO": 2, "SLOWFAST.FUSION_KERNEL_SZ": 5,
        "DATA.NUM_FRAMES": 8, "DATA.SAMPLING_RATE": 8, "DATA.TARGET_FPS": 30,
        "DATA.TRAIN_JITTER_SCALES": [256, 320], "DATA.TRAIN_CROP_SIZE": 224,
        "DATA.TEST_CROP_SIZE": 256, "DATA.MEAN": [0.45, 0.45, 0.45],
        "DATA.INPUT_CHANNEL_NUM": [3, 3], "TEST.NUM_ENSEMBLE_VIEWS": 10,
        "TEST.NUM_SPATIAL_CROPS": 3, "TRAIN.BATCH_SIZE": 64, "TEST.BATCH_SIZE": 8,
        "SOLVER.BASE_LR": 0.1, "SOLVER.LR_POLICY": "cosine", "SOLVER.MAX_EPOCH": 300,
        "SOLVER.NESTEROV": True, "SOLVER.WEIGHT_DECAY": 1e-4,
        "SOLVER.CLIP_GRAD_VAL": None, "BN.NUM_BATCHES_PRECISE": 200,
        "MODEL.NUM_CLASSES": 400, "MODEL.ARCH": "slowfast", "MODEL.DROPOUT_RATE": 0.5,
        "MODEL.LABEL_SMOOTHING": 0.0, "MODEL.MULTI_PATHWAY_ARCH": ["slowfast"],
        "RESNET.DEPTH": 50, "X3D.DIM_C1": 12, "DETECTION.ROI_XFORM_RESOLUTION": 7,
        "AVA.DETECTION_SCORE_THRESH": 0.9, "DATA_LOADER.NUM_WORKERS": 8,
    }  # fmt: skip
    for key, value in expected.items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == value and type(node) is type(value), key


def test_mutualnet_defaults():
    node = get_cfg().MUTUALNET
    assert (node.ENABLE, node.WIDTH_RANGE, node.WIDTH_DIVISOR, node.NUM_RANDOM) == (
        True, [0.25, 1.0], 8, 2,
    )  # fmt: skip
    assert (node.SPATIAL_SIZES, node.TEMPORAL_SIZES, node.DISTILL) == ([], [], True)
    assert (node.BN_CALIB_BATCHES, node.EVAL_WIDTHS, node.EVAL_WIDTH_STEP) == (
        10, [], 0.05,
    )  # fmt: skip
    assert (node.EVAL_SPATIAL_SIZES, node.EVAL_TEMPORAL_SIZES) == ([], [])


def test_get_cfg_is_fresh_unfrozen_and_valid():
    first = get_cfg()
    first.MUTUALNET.WIDTH_RANGE[0] = 0.5  # mutate a shared-looking list in place
    first.DATA.NUM_FRAMES = 32
    second = get_cfg()
    assert second.MUTUALNET.WIDTH_RANGE == [0.25, 1.0] and second.DATA.NUM_FRAMES == 8
    assert not second.is_frozen() and not load_config().is_frozen()
    before = second.dump()
    validate_cfg(second)  # the defaults are valid, and validation changes nothing
    assert second.dump() == before


def test_the_default_model_is_registered_and_builds():
    # PySlowFast's default name: the SlowFast its keys describe (a PySlowFast file that
    # relies on the default, as its Charades ones, builds what PySlowFast builds).
    cfg = get_cfg()
    assert cfg.MODEL.MODEL_NAME == "SlowFast"
    facts = describe_model(cfg.MODEL.MODEL_NAME, model_kwargs(cfg))
    assert facts.num_pathways == 2 and facts.full.temporal == 8 // 8
