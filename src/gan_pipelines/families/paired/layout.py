"""The paired families' image kinds and folder layout.

Every sample is one file name under ``<split>/<kind>/<name>.png``. One module serves the Kedro
namespaces of :data:`FAMILY_KINDS` (pix2pix, pix2pixhd, spade, spade_vae on label maps;
sketch2color on sketches); each namespace picks its input kind and target kind by parameters,
so the kinds of all live here:

* ``label_map``: class index per pixel (uint8 PNG, 0..label_nc-1), kind type ``labels``;
* ``instance_map``: instance index per pixel (0 = stuff), kind type ``labels``;
* ``line_art``: black lines on white from the scene geometry (silhouettes and creases), RGB;
* ``xdog_sketch``: an XDoG sketch of the colour picture, RGB (a second sketch style);
* ``picture``: the colour target, RGB.
"""

SPLITS = ("train", "test")
# Extra test split of sketch2color: scikit-image's bundled photos with the same line extraction
# (no label map: segmentation scores do not apply; shown in the report, predicted alongside).
REAL_TEST_SPLIT = "test_photos"
LABEL_KIND = "label_map"
INSTANCE_KIND = "instance_map"
TARGET_KIND = "picture"
SKETCH_KINDS = ("line_art", "xdog_sketch")
KIND_TYPES = {
    LABEL_KIND: "labels",
    INSTANCE_KIND: "labels",
    "line_art": "rgb",
    "xdog_sketch": "rgb",
    TARGET_KIND: "rgb",
}
# The label map -> photo namespaces: the same embedded data (label map, instance map, picture),
# each with its own generator (pix2pix U-Net, pix2pixHD, SPADE, SPADE+VAE) and parameters.
LABEL_TO_PHOTO = ("pix2pix", "pix2pixhd", "spade", "spade_vae")
# Which kinds a raw sample of each family has (the first is the model's default input).
FAMILY_KINDS = {
    **{family: (LABEL_KIND, INSTANCE_KIND, TARGET_KIND) for family in LABEL_TO_PHOTO},
    "sketch2color": ("line_art", "xdog_sketch", TARGET_KIND, LABEL_KIND),
}
NAMESPACES = tuple(FAMILY_KINDS)


def check_namespace(namespace: str) -> None:
    if namespace not in FAMILY_KINDS:
        raise ValueError(
            f"the paired pipelines run in one of the namespaces {', '.join(NAMESPACES)}, not {namespace!r}"
        )
