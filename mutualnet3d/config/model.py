"""Model keys: PySlowFast's MODEL, RESNET, SLOWFAST and X3D nodes."""

from fvcore.common.config import CfgNode


def add_model_config(cfg: CfgNode) -> None:
    cfg.MODEL = CfgNode()
    cfg.MODEL.ARCH = "slowfast"  # slow, slowfast, x3d, 2d
    cfg.MODEL.MODEL_NAME = "SlowFast"  # a registered name (mutualnet3d.models.list_models())
    cfg.MODEL.NUM_CLASSES = 400
    cfg.MODEL.LOSS_FUNC = "cross_entropy"  # cross_entropy, bce, bce_logit
    cfg.MODEL.LABEL_SMOOTHING = 0.0
    cfg.MODEL.DROPOUT_RATE = 0.5
    cfg.MODEL.HEAD_ACT = "softmax"  # applied at test time only
    cfg.MODEL.FC_INIT_STD = 0.01
    cfg.MODEL.SINGLE_PATHWAY_ARCH = ["2d", "c2d", "i3d", "slow", "x3d"]
    cfg.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]

    cfg.RESNET = CfgNode()
    cfg.RESNET.DEPTH = 50
    cfg.RESNET.NUM_GROUPS = 1
    cfg.RESNET.WIDTH_PER_GROUP = 64
    cfg.RESNET.ZERO_INIT_FINAL_BN = False
    cfg.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]
    cfg.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]

    cfg.SLOWFAST = CfgNode()
    cfg.SLOWFAST.ALPHA = 8  # Fast / Slow frame-rate ratio
    cfg.SLOWFAST.BETA_INV = 8  # Slow / Fast channel ratio
    cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO = 2  # fusion conv outputs = ratio x Fast channels
    cfg.SLOWFAST.FUSION_KERNEL_SZ = 5  # temporal kernel of the fusion conv

    cfg.X3D = CfgNode()
    cfg.X3D.WIDTH_FACTOR = 2.0
    cfg.X3D.DEPTH_FACTOR = 2.2
    cfg.X3D.BOTTLENECK_FACTOR = 2.25
    cfg.X3D.DIM_C5 = 2048  # channels of the head's last conv
    cfg.X3D.DIM_C1 = 12  # stem input channels (before width expansion)
