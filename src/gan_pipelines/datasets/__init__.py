"""Custom Kedro datasets: versioned image folders and PyTorch checkpoint bundles."""

from gan_pipelines.datasets.image_folder import VersionedImageFolderDataset
from gan_pipelines.datasets.torch_checkpoint import TorchCheckpointDataset

__all__ = ["TorchCheckpointDataset", "VersionedImageFolderDataset"]
