"""kedro-datasets' CSV and JSON datasets with the project's version rule.

``VersionedCSVDataset`` and ``VersionedJSONDataset`` are ``pandas.CSVDataset`` and
``json.JSONDataset`` with :class:`~gan_pipelines.datasets.versioning.TimestampVersions` mixed in:
only Kedro version timestamps count as versions, and each versioned load logs the version it
used. Everything else (arguments, file format) is kedro-datasets' own. Used in
``conf/base/catalog.yml`` for every versioned table; unversioned ones may keep the originals.
"""

from __future__ import annotations

from typing import Any

from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset

from gan_pipelines.datasets.versioning import TimestampVersions


class VersionedCSVDataset(TimestampVersions, CSVDataset):
    """``pandas.CSVDataset`` whose versions are Kedro timestamps only (see the module docstring)."""

    def load(self) -> Any:
        self._log_load_version()
        return super().load()


class VersionedJSONDataset(TimestampVersions, JSONDataset):
    """``json.JSONDataset`` whose versions are Kedro timestamps only (see the module docstring)."""

    def load(self) -> Any:
        self._log_load_version()
        return super().load()
