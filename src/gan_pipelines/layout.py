"""The Shadow-AR folder layout, shared by the synthetic renderer, the real-data reader and
every pipeline that walks an image folder.

An image folder in memory is a dict keyed by POSIX relative path, e.g.
``"train/noshadow/scene_00001.png"``; see ``gan_pipelines.datasets.image_folder``.
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


def image_key(split: str, kind: str, name: str) -> str:
    """The image-folder key of one image, e.g. ``image_key("train", "mask", "a")`` ->
    ``"train/mask/a.png"``."""
    return f"{split}/{kind}/{name}.png"


def split_key(key: str) -> tuple[str, str, str]:
    """Inverse of :func:`image_key`: ``"train/mask/a.png"`` -> ``("train", "mask", "a")``."""
    split, kind, filename = key.split("/")
    return split, kind, filename.rsplit(".", 1)[0]
