"""The unpaired families' image kinds, folder layout and namespaces: two picture domains A and
B, and the hidden pairs that only evaluation sees.

Every image is ``<split>/<kind>/<name>.png`` in an image folder (see
:mod:`gan_pipelines.image_folders`). Kinds:

* ``A``, ``B``: a picture of domain A / domain B (RGB, uint8);
* ``A_labels``, ``B_labels``: the class map of that picture (uint8 class index per pixel,
  ``0..label_nc-1``), optional: they enable the content metric.

Splits: ``train`` (ingest), ``val`` (split off ``train`` by preprocess, per domain) and ``test``.
In ``train`` and ``val`` a sample name holds ONE domain: A and B come from disjoint scenes, so
nothing is paired in training. In ``test`` a name that holds both an ``A`` and a ``B`` picture
is a *hidden pair* (the same scene in both domains); ingest gives unrelated test pictures of
the two domains different names, so a shared name always means a real pair.
"""

from __future__ import annotations

SPLITS = ("train", "val", "test")
DOMAINS = ("A", "B")
DIRECTIONS = ("a2b", "b2a")  # metric-name suffixes: a2b translates A pictures into domain B
KIND_TYPES = {"A": "rgb", "B": "rgb", "A_labels": "labels", "B_labels": "labels"}
# Embedded two-domain data (``<family>.ingest.synthetic.pair``), easy to hard.
DOMAIN_PAIRS = ("texture", "day_dusk", "labels_photo")
# namespace -> the model it trains (CycleGAN, U-GAT-IT, MUNIT). The ``_labels`` namespaces train
# the same models on the ``labels_photo`` pair (colour-coded label pictures vs photos of the
# paired families' data) for the label map -> photo comparison (compare_label_to_photo).
NAMESPACE_MODELS = {
    "cyclegan": "cyclegan", "ugatit": "ugatit", "munit": "munit",
    "cyclegan_labels": "cyclegan", "ugatit_labels": "ugatit", "munit_labels": "munit",
}
NAMESPACES = tuple(NAMESPACE_MODELS)
MODEL_TITLES = {"cyclegan": "CycleGAN", "ugatit": "U-GAT-IT", "munit": "MUNIT"}


def labels_kind(domain: str) -> str:
    """The class-map kind of ``domain``: ``labels_kind("A") -> "A_labels"``."""
    check_domain(domain)
    return f"{domain}_labels"


def other_domain(domain: str) -> str:
    """``"A" -> "B"``, ``"B" -> "A"``."""
    check_domain(domain)
    return "B" if domain == "A" else "A"


def direction_domains(direction: str) -> tuple[str, str]:
    """``(source, target)`` of a direction: ``"a2b" -> ("A", "B")``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    return ("A", "B") if direction == "a2b" else ("B", "A")


def check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(DOMAINS)}, not {domain!r}")


def model_of(namespace: str) -> str:
    """The model a namespace trains: ``model_of("ugatit_labels") -> "ugatit"``. Raises
    ValueError for a namespace that is not unpaired."""
    check_namespace(namespace)
    return NAMESPACE_MODELS[namespace]


def check_namespace(namespace: str) -> None:
    if namespace not in NAMESPACES:
        raise ValueError(
            f"the unpaired pipelines run in one of the namespaces {', '.join(NAMESPACES)}, not {namespace!r}"
        )
