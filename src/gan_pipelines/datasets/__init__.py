"""Custom Kedro datasets: versioned image folders, PyTorch checkpoint bundles, and kedro-datasets'
CSV/JSON tables; every versioned one counts only Kedro timestamps as versions
(:mod:`gan_pipelines.datasets.versioning`). Plus a read-only folder of the user's own pictures
(:mod:`gan_pipelines.datasets.input_folder`), and the stand-in that saves nothing for the other
machines of a multi-machine training (:mod:`gan_pipelines.datasets.not_saved`)."""

from gan_pipelines.datasets.image_folder import VersionedImageFolderDataset
from gan_pipelines.datasets.input_folder import InputFolder, InputFolderDataset
from gan_pipelines.datasets.not_saved import NotSavedDataset
from gan_pipelines.datasets.tables import VersionedCSVDataset, VersionedJSONDataset
from gan_pipelines.datasets.torch_checkpoint import LazyCheckpoint, TorchCheckpointDataset
from gan_pipelines.datasets.versioning import TimestampVersions

__all__ = [
    "InputFolder",
    "InputFolderDataset",
    "LazyCheckpoint",
    "NotSavedDataset",
    "TimestampVersions",
    "TorchCheckpointDataset",
    "VersionedCSVDataset",
    "VersionedImageFolderDataset",
    "VersionedJSONDataset",
]
