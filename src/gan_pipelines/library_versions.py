"""The library versions that can change a result, recorded with every checkpoint and metrics file.

Two machines that resolve different releases of these libraries can train on differently
augmented data (OpenCV's resampling changed between 5.0 and 5.1) or compute other numbers, without
saying so. So every checkpoint's and metrics file's ``meta["versions"]`` holds
:func:`library_versions`, and :func:`warn_if_versions_differ` logs a warning when a checkpoint is
evaluated or a training state is resumed under other versions than it was made with. The tested
set is locked in the repository's ``constraints.txt``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Mapping
from importlib import metadata

logger = logging.getLogger(__name__)

# (recorded name, distributions that provide it, first found wins). OpenCV ships under several
# distribution names with the same ``cv2`` module.
RESULT_LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("python", ()),
    ("torch", ("torch",)),
    ("torchvision", ("torchvision",)),
    ("numpy", ("numpy",)),
    ("opencv", ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless",
                "opencv-contrib-python")),
    ("albumentations", ("albumentations",)),
    ("pillow", ("pillow",)),
    ("scikit-image", ("scikit-image",)),
    ("kedro", ("kedro",)),
    ("dvc", ("dvc",)),
)


def _distribution_version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def library_versions() -> dict[str, str | None]:
    """``{"python": "3.11.7", "torch": "2.14.1", ..., "dvc": "3.67.1"}``: the installed release of
    every library in :data:`RESULT_LIBRARIES` (None where it is not installed), read from the
    installed distributions' metadata, so the exact build (``opencv`` ``5.0.0.93``) is kept."""
    return {
        name: platform.python_version() if name == "python" else _distribution_version(dists)
        for name, dists in RESULT_LIBRARIES
    }


def version_differences(recorded: Mapping[str, str | None] | None,
                        current: Mapping[str, str | None] | None = None) -> dict[str, tuple]:
    """``{library: (recorded, current)}`` for every library whose version differs. Libraries the
    record does not mention are not compared (a record from before versions were kept is ``{}``)."""
    current = library_versions() if current is None else current
    return {
        name: (was, current.get(name))
        for name, was in (recorded or {}).items()
        if was != current.get(name)
    }


def warn_if_versions_differ(meta: Mapping | None, what: str, action: str = "using") -> dict[str, tuple]:
    """Log a warning when ``meta["versions"]`` (a checkpoint's or training state's record) names
    other library versions than this environment has. ``what`` names the thing (a path or a
    dataset name) and ``action`` what is being done with it, both for the message. Returns the
    differences (empty when the versions match or the record has none; an old record without
    versions gets an info line instead, since nothing can be compared)."""
    recorded = (meta or {}).get("versions")
    if not recorded:
        logger.info("%s records no library versions (made before they were kept); cannot check them.", what)
        return {}
    differences = version_differences(recorded)
    if differences:
        listed = ", ".join(f"{name} {was} -> {now}" for name, (was, now) in sorted(differences.items()))
        logger.warning(
            "%s %s under other library versions than it was made with (%s): results may not match "
            "the original run. `pip install -c constraints.txt -e .` installs the tested set.",
            action.capitalize(), what, listed,
        )
    return differences
