"""The Shadow-AR folder layout: the shadow family's splits and image kinds.

Every sample has the five Shadow-AR images under the same file name, e.g.
``train/noshadow/scene_00001.png`` and ``train/mask/scene_00001.png`` (keys built by
:func:`gan_pipelines.image_folders.image_key`).
"""

SPLITS = ("train", "test")
RGB_KINDS = ("noshadow", "shadow")
MASK_KINDS = ("mask", "robject", "rshadow")
# Every Shadow-AR sample has these five images, all with the same file name.
SAMPLE_KINDS = ("noshadow", "shadow", "mask", "robject", "rshadow")
# Mask of the inserted object's own cast shadow: exact for synthetic data, derived for real data.
SHADOW_MASK_KIND = "shadow_mask"
# What a user has at inference time.
INFERENCE_KINDS = ("noshadow", "mask")
# The kind every sample has: it names the samples of a split.
ANCHOR_KIND = "noshadow"
# How each kind is resized and fed to the networks (see gan_pipelines.stages.preprocess).
KIND_TYPES = {
    "noshadow": "rgb", "shadow": "rgb",
    "mask": "mask", "robject": "mask", "rshadow": "mask", SHADOW_MASK_KIND: "mask",
}
# Masks that mark the inserted object: an empty one is refused (by ingest and predict alike).
OBJECT_MASK_KINDS = ("mask",)
