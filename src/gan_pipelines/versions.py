"""What counts as a saved version: the one rule for every versioned dataset of the project.

Kedro saves a versioned dataset as ``<path>/<version>/<name>`` where ``<version>`` is a UTC
timestamp such as ``2024-05-02T08.30.00.000Z``. Only folders whose name is such a timestamp are
versions; anything else under ``<path>`` (a user's ``backup_A/`` copy, ``old/``, a half-written
``.partial-*`` folder) is never a version: it is never loaded as the latest and never pruned. The
latest version is the newest timestamp (not the largest folder name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

# Kedro's VERSION_FORMAT ("%Y-%m-%dT%H.%M.%S.%fZ") with milliseconds, as generate_timestamp writes.
VERSION_FORMAT = "%Y-%m-%dT%H.%M.%S.%fZ"
VERSION_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z")


def is_version(name: str) -> bool:
    """True when ``name`` is a Kedro version timestamp (``2024-05-02T08.30.00.000Z``) of a real
    date and time."""
    if not VERSION_PATTERN.fullmatch(name):
        return False
    try:
        datetime.strptime(name, VERSION_FORMAT)
    except ValueError:
        return False
    return True


def split_versions(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(versions newest first, other names sorted)`` from the folder names under a versioned
    path. Timestamps of one fixed width sort by time as strings."""
    names = set(names)
    versions = sorted((name for name in names if is_version(name)), reverse=True)
    return versions, sorted(names - set(versions))


def find_version(text: str) -> str | None:
    """The first version timestamp inside ``text`` (e.g. a file path), or None."""
    for match in VERSION_PATTERN.finditer(text):
        if is_version(match.group(0)):
            return match.group(0)
    return None
