"""Version resolution shared by every versioned dataset of the project.

Kedro picks the "latest" version as the largest name matched by ``<path>/*/<name>``, so a
user's ``backup_A/`` copy of a snapshot beats every timestamp ("b" > "2"). Datasets that mix in
:class:`TimestampVersions` count only Kedro version timestamps as versions
(:mod:`gan_pipelines.versions`): other folders are warned about by name and never loaded as the
latest (an explicit ``--load-versions`` pin is still honoured). Each load logs the version it
used and whether it was the latest or pinned.

The project's datasets that use it: :class:`~gan_pipelines.datasets.VersionedImageFolderDataset`,
:class:`~gan_pipelines.datasets.TorchCheckpointDataset`, and the CSV/JSON datasets of
:mod:`gan_pipelines.datasets.tables` (kedro-datasets' own, with this mixin).
"""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

from kedro.io.core import VersionNotFoundError

from gan_pipelines.versions import split_versions

logger = logging.getLogger(__name__)


class TimestampVersions:
    """Mixin for a Kedro ``AbstractVersionedDataset`` subclass (put it first in the bases)."""

    def _get_versions(self) -> list[str]:
        """Versioned paths ``<path>/<timestamp>/<name>`` that exist, newest first; folders that
        are not timestamps are warned about (once per dataset object) and left out."""
        pattern = str(self._get_versioned_path("*"))  # type: ignore[attr-defined]
        try:
            matches = list(self._glob_function(pattern))  # type: ignore[attr-defined]
        except Exception as exc:
            raise VersionNotFoundError(
                f"Did not find any versions for {self}. This could be due to insufficient permission. "
                f"Exception: {exc}"
            ) from exc
        by_version = {PurePosixPath(path).parent.name: path for path in matches
                      if self._exists_function(path)}  # type: ignore[attr-defined]
        versions, others = split_versions(by_version)
        if others and getattr(self, "_warned_not_versions", None) != others:
            self._warned_not_versions = others
            logger.warning(
                "%s holds folder(s) that are not Kedro versions: %s. They are never loaded as the latest "
                "version (pin one with --load-versions if you mean it); move or rename them to silence this.",
                self._filepath.as_posix(), ", ".join(f"{name}/" for name in others),  # type: ignore[attr-defined]
            )
        return [by_version[version] for version in versions]

    def _fetch_latest_load_version(self) -> str:
        # Kedro 1.7 builds this on _get_versions; defined here too so the rule does not depend on
        # how a given Kedro 1.x resolves "latest".
        cached = getattr(self, "_cached_load_version", None)
        if cached is not None:
            return cached
        paths = self._get_versions()
        if not paths:
            raise VersionNotFoundError(f"Did not find any versions for {self}")
        self._cached_load_version = PurePosixPath(paths[0]).parent.name
        return self._cached_load_version

    def _log_load_version(self) -> None:
        """Log which version a load uses: ``<path>: loading version <v> (latest of N | pinned)``."""
        version = getattr(self, "_version", None)
        if not version:
            return
        resolved = self.resolve_load_version()  # type: ignore[attr-defined]
        if version.load:
            how = "pinned with --load-versions"
        else:
            count = len(self._get_versions())
            how = f"the latest of {count} version{'s' if count != 1 else ''}"
        logger.info("%s: loading version %s (%s)", self._filepath.as_posix(), resolved, how)  # type: ignore[attr-defined]
