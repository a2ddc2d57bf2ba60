"""segsynth's image kinds, arms and names.

The data is the paired label map -> photo layout (``<split>/<kind>/<name>.png``): ``label_map``
(class index per pixel), ``instance_map`` (object id per pixel, 0 = none; optional for user data,
where the connected components of each object class stand in) and ``picture``.
"""

from gan_pipelines.families.paired.layout import INSTANCE_KIND, LABEL_KIND, TARGET_KIND

NAMESPACE = "segsynth"
# segsynth reads the same data as this paired family (kinds, embedded renderer settings).
DATA_FAMILY = "spade"
KIND_TYPES = {LABEL_KIND: "labels", INSTANCE_KIND: "labels", TARGET_KIND: "rgb"}
SPLITS = ("train", "val", "test")

# The arms, in the order of the table. What each trains on (N real pairs, K made pairs):
ARMS = {
    "A": "N real pictures, E epochs",
    "A_steps": "N real pictures, as many optimiser steps as B",
    "A_aug": "N real pictures with geometric and colour augmentation, E epochs",
    "C": "pre-train on K copy-paste pictures (real object crops on real pictures), fine-tune on N real",
    "B": "pre-train on K GAN pictures of synthetic label maps, fine-tune on N real",
    "B_mix": "GAN and real pictures mixed in one run, as many steps as B",
    "G": "K GAN pictures only (B before its fine-tuning)",
    "D": "pre-train on K freshly rendered real scenes, fine-tune on N real (upper bound; embedded data only)",
}
# The arms a user can run on their own data without more labels: the verdict's candidates.
PRACTICAL_ARMS = ("A", "A_steps", "A_aug", "C", "B", "B_mix")
GAN_ARMS = ("B", "B_mix")
RIVAL_ARMS = ("C", "A_aug")  # the cheap ways a GAN arm must also beat
REFERENCE_ARM = "A_steps"  # the control of "more steps": the verdict's differences are against it
# Metric columns of the per-seed table (besides recall per size bin).
METRICS = ("miou", "fg_iou", "object_precision", "object_recall", "object_f1")
