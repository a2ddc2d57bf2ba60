"""``TorchCheckpointDataset``: a (versioned) PyTorch checkpoint bundle.

A bundle is a nested structure of tensors, numbers, strings, ``None``, lists, tuples and dicts,
e.g. ``{"state_dicts": {"generator": ..., "discriminator": ...}, "model_config": {...},
"val_metrics": {...}}``. It is written with ``torch.save`` and read back with
``torch.load(..., map_location="cpu", weights_only=True)``, so loading never unpickles arbitrary
Python objects. Bundles that could not be read back that way are refused at save time, so a
training node fails at once instead of an evaluation node failing later.

On disk, with ``versioned: true``::

    data/06_models/attention.pt/2024-05-01T10.00.00.000Z/attention.pt

Example ``catalog.yml`` entry::

    attention_checkpoint:
      type: gan_pipelines.datasets.TorchCheckpointDataset
      filepath: data/06_models/attention.pt
      versioned: true
      metadata:
        kedro-viz:
          layer: models
"""

from __future__ import annotations

import io
import logging
import pickle
import re
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
import torch
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from gan_pipelines.datasets.versioning import TimestampVersions
from gan_pipelines.files import write_atomically

logger = logging.getLogger(__name__)

_ALLOWED_CONTENT = (
    "tensors, numbers, strings, booleans, None, lists, tuples and dicts (torch.Size, dtypes "
    "and devices are fine too)"
)


_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported (?:global|class):? (?:GLOBAL )?([\w.<>]+)")
_UNPICKLER_ERROR = re.compile(r"WeightsUnpickler error:\s*(.*?)(?:\n\n|$)", re.S)


def _disallowed_object(exc: BaseException) -> str | None:
    """The class/function name a weights-only load refused, or None if the error is not that."""
    match = _UNSUPPORTED_GLOBAL.search(str(exc))
    return match.group(1) if match else None


def _unpickler_detail(exc: BaseException) -> str:
    """The useful line of torch's long weights-only error (its advice to pass
    ``weights_only=False`` does not apply here)."""
    match = _UNPICKLER_ERROR.search(str(exc))
    detail = match.group(1) if match else str(exc)
    return " ".join(detail.split())[:500]


class TorchCheckpointDataset(TimestampVersions, AbstractVersionedDataset[dict[str, Any], dict[str, Any]]):
    """A checkpoint bundle saved with ``torch.save`` and loaded with ``weights_only=True``.

    Only folders named by a Kedro version timestamp are versions; each read logs the version it
    used (see :mod:`gan_pipelines.datasets.versioning`).

    Args:
        filepath: File path, optionally with an fsspec protocol (``s3://bucket/model.pt``).
        load_args: Extra keyword arguments for ``torch.load`` (e.g. ``map_location``, which
            defaults to ``"cpu"``). ``weights_only`` is always ``True`` and cannot be changed.
        save_args: Extra keyword arguments for ``torch.save`` (e.g. ``pickle_protocol``).
        version: Set by Kedro from ``versioned: true`` (and ``--load-versions``).
        credentials: Passed to the fsspec filesystem constructor.
        fs_args: Extra fsspec filesystem arguments; nested ``open_args_load`` /
            ``open_args_save`` go to ``fs.open``.
        metadata: Free-form metadata (e.g. the kedro-viz layer); ignored by Kedro itself.
        lazy: ``load`` returns a :class:`LazyCheckpoint` that reads the file only when asked, so a
            node can take a checkpoint it may not need (e.g. prediction with an exported model).
            Used through Kedro transcoding: ``"<name>@lazy"`` is the same file as ``"<name>"``.
    """

    DEFAULT_LOAD_ARGS: dict[str, Any] = {"map_location": "cpu"}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {}

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        lazy: bool = False,
    ) -> None:
        if not isinstance(lazy, bool):
            raise DatasetError(f"TorchCheckpointDataset '{filepath}': lazy must be true or false, got {lazy!r}")
        self._lazy = lazy
        load_args = dict(load_args or {})
        if "weights_only" in load_args and load_args.pop("weights_only") is not True:
            raise DatasetError(
                f"TorchCheckpointDataset '{filepath}': load_args.weights_only cannot be changed; "
                f"checkpoints are always loaded with weights_only=True."
            )
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **load_args}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}

        _fs_args = deepcopy(fs_args) or {}
        self._fs_open_args_load = {"mode": "rb", **_fs_args.pop("open_args_load", {})}
        self._fs_open_args_save = {"mode": "wb", **_fs_args.pop("open_args_save", {})}
        _credentials = deepcopy(credentials) or {}

        protocol, path = get_protocol_and_path(str(filepath), version)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **_credentials, **_fs_args)
        self.metadata = metadata

        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _display(self, path: str) -> str:
        return path if self._protocol == "file" else f"{self._protocol}://{path}"

    def load(self) -> dict[str, Any] | LazyCheckpoint:
        if self._lazy:
            return LazyCheckpoint(self)
        return self._load_now()

    def _load_now(self) -> dict[str, Any]:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        name = self._display(load_path)
        self._log_load_version()
        try:
            with self._fs.open(load_path, **self._fs_open_args_load) as handle:
                return torch.load(handle, weights_only=True, **self._load_args)
        except FileNotFoundError:
            raise DatasetError(f"Checkpoint file '{name}' does not exist.") from None
        except Exception as exc:  # torch raises many types for a damaged file
            refused = _disallowed_object(exc) if isinstance(exc, pickle.UnpicklingError) else None
            if refused:
                raise DatasetError(
                    f"Checkpoint '{name}' contains an object of type '{refused}', which is not "
                    f"allowed with weights_only=True (only {_ALLOWED_CONTENT}); refusing to "
                    f"unpickle it."
                ) from exc
            raise DatasetError(
                f"'{name}' is not a valid PyTorch checkpoint (corrupt, truncated or not a "
                f"checkpoint): {exc.__class__.__name__}: {_unpickler_detail(exc)}"
            ) from exc

    def save(self, data: dict[str, Any]) -> None:
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        name = self._display(save_path)

        buffer = io.BytesIO()
        try:
            torch.save(data, buffer, **self._save_args)
        except Exception as exc:
            raise DatasetError(f"Could not serialise checkpoint for '{name}': {exc}") from exc
        payload = buffer.getvalue()
        self._check_weights_only(payload, name)

        if self._protocol == "file":
            write_atomically(save_path, payload)
        else:
            with self._fs.open(save_path, **self._fs_open_args_save) as handle:
                handle.write(payload)
        self._invalidate_cache()
        logger.info("Saved checkpoint (%.1f MB) to %s", len(payload) / 1e6, name)

    @staticmethod
    def _check_weights_only(payload: bytes, name: str) -> None:
        """Refuse bundles that ``torch.load(weights_only=True)`` could not read back."""
        try:
            torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise DatasetError(
                f"Refusing to save checkpoint '{name}': it contains objects that cannot be "
                f"loaded with weights_only=True ({_unpickler_detail(exc)}). Store only "
                f"{_ALLOWED_CONTENT}: e.g. model.state_dict() and plain-dict configs, not "
                f"nn.Module or optimizer objects or custom classes."
            ) from exc

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return bool(self._fs.isfile(load_path))

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath.as_posix(),
            "protocol": self._protocol,
            "load_args": self._load_args,
            "save_args": self._save_args,
            "version": self._version,
            "lazy": self._lazy,
        }

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))


class LazyCheckpoint:
    """A checkpoint not read yet (what ``TorchCheckpointDataset(lazy=True).load()`` returns).

    ``exists()`` says whether there is a checkpoint to read (for a versioned dataset: any version,
    or the pinned one); ``load()`` reads it as the dataset's normal ``load`` does, with the same
    errors naming the file."""

    def __init__(self, dataset: TorchCheckpointDataset) -> None:
        self._dataset = dataset

    def exists(self) -> bool:
        return self._dataset.exists()

    def load(self) -> dict[str, Any]:
        return self._dataset._load_now()

    def __repr__(self) -> str:
        return f"LazyCheckpoint({self._dataset._filepath.as_posix()})"
