"""Custom Kedro datasets: versioned image folders, PyTorch checkpoint bundles, and kedro-datasets'
CSV/JSON tables; every versioned one counts only Kedro timestamps as versions
(:mod:`gan_pipelines.datasets.versioning`)."""

from gan_pipelines.datasets.image_folder import VersionedImageFolderDataset
from gan_pipelines.datasets.tables import VersionedCSVDataset, VersionedJSONDataset
from gan_pipelines.datasets.torch_checkpoint import LazyCheckpoint, TorchCheckpointDataset
from gan_pipelines.datasets.versioning import TimestampVersions

__all__ = [
    "LazyCheckpoint",
    "TimestampVersions",
    "TorchCheckpointDataset",
    "VersionedCSVDataset",
    "VersionedImageFolderDataset",
    "VersionedJSONDataset",
]
