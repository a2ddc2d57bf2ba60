"""Small checks for parameter dicts coming from conf/, so a typo fails early and by name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def check_known_keys(params: Mapping[str, Any], allowed: Iterable[str], section: str) -> None:
    """Raise ValueError naming every key of ``params`` that is not in ``allowed``."""
    allowed = set(allowed)
    unknown = sorted(set(params) - allowed)
    if unknown:
        names = ", ".join(f"{section}.{key}" for key in unknown)
        raise ValueError(f"Unknown parameter(s) {names}; allowed under {section}: {', '.join(sorted(allowed))}")


def require(params: Mapping[str, Any], key: str, section: str) -> Any:
    """Return ``params[key]`` or raise ValueError naming the missing ``section.key``."""
    if key not in params or params[key] is None:
        raise ValueError(f"Missing parameter {section}.{key}")
    return params[key]
