"""Custom Kedro datasets: versioned image folders and PyTorch checkpoint bundles."""

from gan_pipelines.datasets.image_folder import VersionedImageFolderDataset
from gan_pipelines.datasets.torch_checkpoint import LazyCheckpoint, TorchCheckpointDataset

__all__ = ["LazyCheckpoint", "TorchCheckpointDataset", "VersionedImageFolderDataset"]
