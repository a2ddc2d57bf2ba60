"""Typed stage parameters: what every family's ``config`` module builds on.

Each stage's parameters (``<family>.<stage>`` in conf/) are one pydantic model, a
:class:`StageParams`. A node annotates its ``params:`` input with that model, so Kedro validates
every parameter of every node in the run (unknown keys, types, ranges, pairs inside a stage)
before any node runs, and hands the node the validated object. Nodes called directly (tests,
notebooks) pass a plain dict: :meth:`StageParams.parse` validates it through the same model.

Errors name the full key path, e.g. ``<family>.train.model.num_downs: ...``: a model knows its
``section`` through :meth:`StageParams.in_section` (one subclass per namespace and stage).

Paths that follow from the namespace and stage are not parameters: a training stage's full
state file is :func:`training_state_path` and its TensorBoard folder :func:`tensorboard_dir`.

Pairs that span two stages (a train crop against preprocess's resolution, the class count of
``ingest`` used by ``train``) are checked by each family's ``check_stages``; :func:`check_run_parameters`
runs those of the families in a pipeline, before any of its nodes (from the project's
``before_pipeline_run`` hook).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

STATE_DIR = "data/06_models/training_state"
TENSORBOARD_DIR = "data/08_reporting/tensorboard"
# Keys that are derived now; a config that still sets them gets this explanation.
DERIVED_TRAINING_KEYS = {
    "state_path": f"{STATE_DIR}/<family>_<stage>.pt",
    "log_dir": f"{TENSORBOARD_DIR}/<family>_<stage>",
}


class ParameterError(ValueError):
    """A parameter is unknown, missing, of the wrong type or inconsistent; the message names
    every such key by its full path (``<family>.<stage>.<key>...``)."""


def check_known_keys(params: Mapping[str, Any], allowed: Iterable[str], section: str) -> None:
    """Raise ValueError naming every key of ``params`` that is not in ``allowed``.

    For the model builders' plain config dicts (``build_generator(config)`` and the like);
    stage parameters are checked by their :class:`StageParams` model."""
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


def checked_by(check, value: Any, where: str) -> Any:
    """``value`` once ``check(value)`` accepted it; a ValueError/TypeError from ``check`` is
    re-raised as ValueError naming ``where`` (for model validators that reuse a builder's or
    reader's own checks)."""
    try:
        check(value)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        raise ValueError(message if message.startswith(where) else f"{where}: {message}") from None
    return value


_ENDPOINT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*):(?P<port>[0-9]{1,5})")


def endpoint_problem(endpoint: Any) -> str | None:
    """Why ``endpoint`` is not a rendezvous address ``host:port`` (a host name, an IPv4 address or
    a bracketed IPv6 one, and a port in 1..65535), or None when it is. The host is not looked up."""
    match = _ENDPOINT.fullmatch(endpoint) if isinstance(endpoint, str) else None
    if match is None:
        return f"must be 'host:port' (node 0's address and a free port, e.g. node0.cluster:29400), got {endpoint!r}"
    if not 1 <= int(match["port"]) <= 65535:
        return f"has port {match['port']}, outside 1..65535"
    return None


def training_state_path(section: str) -> str:
    """The full training state file of ``section`` (``"<family>.train"`` ->
    ``data/06_models/training_state/<family>_train.pt``), relative to the project: derived from
    the namespace and stage, so a copied namespace gets its own file."""
    return f"{STATE_DIR}/{section.replace('.', '_')}.pt"


def tensorboard_dir(section: str) -> str:
    """The TensorBoard folder of ``section`` (``data/08_reporting/tensorboard/<namespace>_<stage>``)."""
    return f"{TENSORBOARD_DIR}/{section.replace('.', '_')}"


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def unknown_keys_error(keys: Iterable[str], allowed: Iterable[str]) -> PydanticCustomError:
    """The error a block raises for keys it does not know (rendered by :func:`format_errors` as
    ``<block>.<key>: unknown key; allowed: ...``)."""
    return PydanticCustomError(
        "unknown_keys", "unknown key(s) {keys}; allowed: {allowed}",
        {"keys": ", ".join(sorted(keys)), "allowed": ", ".join(sorted(allowed))},
    )


def inconsistent(key: str, message: str) -> PydanticCustomError:
    """What a block's model validator raises for a bad pair of its keys: rendered by
    :func:`format_errors` as ``<block>.<key> <message>``, so ``message`` continues the sentence
    (``"must be ..."``; ``key`` may be dotted, e.g. ``augmentation.crop_size``)."""
    return PydanticCustomError("inconsistent", "{key} {message}", {"key": key, "message": message})


class ConfigBlock(BaseModel):
    """A block of parameters: unknown keys refused (listing the allowed ones), types strict (no
    ``"1"`` for 1, no 1 for ``true``; an integer is fine where a number is expected)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            allowed = set(cls.model_fields)
            unknown = [str(key) for key in data if key not in allowed]
            if unknown:
                raise unknown_keys_error(unknown, allowed)
        return data

    def as_dict(self) -> dict[str, Any]:
        """The parameters as given (keys left out stay out, so the code's defaults apply), as
        plain dicts and lists."""
        return self.model_dump(exclude_unset=True)


class StageParams(ConfigBlock):
    """The parameters of one stage, ``<namespace>.<stage>``. Use ``Model.in_section(section)``
    as a node's annotation (Kedro validates with it) and ``Model.parse(value, section)`` in the
    node (a dict from a direct call, or the object Kedro made)."""

    section: ClassVar[str] = ""

    @classmethod
    def in_section(cls, section: str) -> type[StageParams]:
        """This model for the parameters at ``section`` (the same class for the same section)."""
        return _section_model(cls, section)

    @classmethod
    def parse(cls, value: Any, section: str | None = None):
        """``value`` (a mapping, or an object of this model) validated as the parameters at
        ``section`` (default: the model's own). Raises :class:`ParameterError` naming every bad
        key by its full path."""
        model = cls.in_section(section) if section else cls
        if isinstance(value, cls):
            return value if not section or value.section == section else model.model_validate(value.as_dict())
        if not isinstance(value, Mapping):
            raise ParameterError(f"{model.section or cls.__name__} must be a mapping of parameters, got "
                                 f"{type(value).__name__}")
        return model.model_validate(dict(value))

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any):
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise ParameterError(format_errors(exc, cls.section or cls.__name__)) from None


@functools.cache
def _section_model(model: type[StageParams], section: str) -> type[StageParams]:
    if model.section == section:
        return model
    base = model.__mro__[1] if model.section else model  # a section's model derives from the plain one
    return type(base.__name__, (base,), {"section": section, "__module__": base.__module__,
                                         "__qualname__": f"{base.__qualname__}[{section}]"})


def as_plain(params: Any) -> dict[str, Any]:
    """A stage's parameters as plain dicts (:meth:`ConfigBlock.as_dict` of a validated object, a
    copy of a mapping): for code that only shows them, e.g. a report's settings table."""
    return params.as_dict() if isinstance(params, ConfigBlock) else dict(params or {})


def format_errors(exc: ValidationError, section: str) -> str:
    """One line per error: ``<section>.<key path>: <what is wrong> (got <value>)``."""
    lines = []
    for error in exc.errors(include_url=False):
        path = section + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        if error["type"] == "unknown_keys":
            keys = ", ".join(f"{path}.{key}" for key in error["ctx"]["keys"].split(", "))
            lines.append(f"{keys}: unknown parameter; allowed under {path}: {error['ctx']['allowed']}")
        elif error["type"] == "inconsistent":
            lines.append(f"{path}.{error['ctx']['key']} {error['ctx']['message']}")
        elif error["type"] == "derived_key":
            keys = ", ".join(f"{path}.{key}" for key in error["ctx"]["keys"].split(", "))
            lines.append(f"{keys}: not a parameter any more, it is automatic ({error['ctx']['paths']}); remove it")
        else:
            message = error["msg"].removeprefix("Value error, ")
            if message.startswith(path):  # a library's own message, already naming the key
                lines.append(message)
                continue
            shown = isinstance(error["input"], (str, int, float, bool, type(None))) and error["type"] != "value_error"
            lines.append(f"{path}: {message}" + (f" (got {error['input']!r})" if shown else ""))
    if len(lines) == 1:
        return lines[0]
    return "Invalid parameters:\n" + "\n".join(f"  {line}" for line in lines)


# --------------------------------------------------------------------------------------------
# Blocks every family uses
# --------------------------------------------------------------------------------------------

class TrainingParams(ConfigBlock):
    """A training stage's ``training`` block: the settings of
    :class:`gan_pipelines.training.TrainerConfig` (see it for what each does) except the paths,
    which follow from the stage (:func:`training_state_path`, :func:`tensorboard_dir`). Checks
    the pairs: ``lr_constant_epochs`` in [0, epochs] with the linear schedule only,
    ``monitor_start_epoch`` in [1, epochs], ``resume`` needs nothing else; ``node_rank`` in
    [0, nodes - 1] and ``rdzv_endpoint`` (``host:port``) required when ``nodes`` > 1 and checked
    for shape whenever set. Defaults are TrainerConfig's (a test keeps them equal)."""

    epochs: int = Field(gt=0)
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    monitor: str | None = Field("loss", min_length=1)
    monitor_mode: Literal["min", "max"] = "min"
    monitor_start_epoch: int = Field(1, ge=1)
    scheduler_metric: str = "loss"
    scheduler_mode: Literal["min", "max"] = "min"
    scheduler_factor: float = Field(0.9, gt=0, lt=1)
    scheduler_patience: int = Field(10, ge=0)
    grad_clip_norm: float | None = Field(None, gt=0)
    resume: bool = False
    sample_every: int = Field(5, ge=1)
    log_every_steps: int = Field(10, ge=1)
    channels_last: bool = True
    progress: bool = True
    cpu_threads: int | None = Field(None, ge=1)
    deterministic: bool = False
    devices: int = Field(1, ge=1)
    nodes: int = Field(1, ge=1)
    node_rank: int = Field(0, ge=0)
    rdzv_endpoint: str | None = None
    sync_batchnorm: bool = False
    compile: bool = False
    fused_optimizer: Literal["auto", True, False] = "auto"
    ema_decay: float | None = Field(None, gt=0, lt=1)
    ema_modules: list[str] | None = None
    scheduler: Literal["plateau", "linear", "step", "none"] = "plateau"
    lr_constant_epochs: int | None = Field(None, ge=0)
    lr_step_epochs: int | None = Field(None, ge=1)
    lr_step_factor: float = Field(0.5, gt=0, lt=1)
    keep_superseded_states: int | None = Field(1, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _no_derived_paths(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            derived = [key for key in DERIVED_TRAINING_KEYS if key in data]
            if derived:
                raise PydanticCustomError(
                    "derived_key", "{keys}: not a parameter any more, it is automatic ({paths}); remove it",
                    {"keys": ", ".join(derived), "paths": ", ".join(DERIVED_TRAINING_KEYS[key] for key in derived)},
                )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainingParams:
        if self.scheduler == "linear":
            if self.lr_constant_epochs is None:
                raise inconsistent("lr_constant_epochs", "is required when scheduler is 'linear'")
            if self.lr_constant_epochs > self.epochs:
                raise inconsistent("lr_constant_epochs", f"({self.lr_constant_epochs}) is more than epochs "
                                   f"({self.epochs}); when lowering epochs, lower it too")
        elif self.lr_constant_epochs is not None:
            raise inconsistent("lr_constant_epochs", f"only applies to scheduler 'linear' (scheduler is "
                               f"{self.scheduler!r})")
        if self.scheduler == "step" and self.lr_step_epochs is None:
            raise inconsistent("lr_step_epochs", "is required when scheduler is 'step'")
        if self.scheduler != "step" and self.lr_step_epochs is not None:
            raise inconsistent("lr_step_epochs", f"only applies to scheduler 'step' (scheduler is {self.scheduler!r})")
        if self.monitor_start_epoch > self.epochs:
            raise inconsistent("monitor_start_epoch", f"({self.monitor_start_epoch}) is more than epochs ({self.epochs})")
        if self.node_rank >= self.nodes:
            raise inconsistent("node_rank", f"({self.node_rank}) must be below nodes ({self.nodes}): nodes are "
                                            f"numbered 0..{self.nodes - 1}")
        if self.nodes > 1 and self.rdzv_endpoint is None:
            raise inconsistent("rdzv_endpoint", f"is required with nodes: {self.nodes}: node 0's address and a free "
                                                "port, e.g. node0.cluster:29400, the same on every node")
        if self.rdzv_endpoint is not None and endpoint_problem(self.rdzv_endpoint):
            raise inconsistent("rdzv_endpoint", endpoint_problem(self.rdzv_endpoint))
        return self

    def trainer_config(self, section: str, **changes: Any):
        """The :class:`~gan_pipelines.training.TrainerConfig` of the stage ``section``, with its
        derived state file and TensorBoard folder; ``changes`` replace settings (e.g. a second
        phase's ``epochs``, ``state_path``)."""
        from gan_pipelines.training import TrainerConfig

        settings = {**self.model_dump(), "state_path": training_state_path(section),
                    "log_dir": tensorboard_dir(section), **changes}
        return TrainerConfig(**settings)


class PreprocessParams(StageParams):
    """``<family>.preprocess``: the training ``resolution`` (positive; the family's networks
    need a multiple, checked by the family), ``val_fraction`` of the train split held out
    (0 < f < 1), ``seed`` of that split."""

    resolution: int = Field(gt=0)
    val_fraction: float = Field(gt=0, lt=1)
    seed: int = 0


class ExportParams(StageParams):
    """``<family>.export``: the ONNX file to write and whether an existing one may be replaced."""

    output_path: str = Field(min_length=1)
    overwrite: bool = False


# --------------------------------------------------------------------------------------------
# Pairs across stages, before a run
# --------------------------------------------------------------------------------------------

def _stage_check(namespace: str):
    """The ``check_stages(namespace, stages)`` of the family serving ``namespace`` (the ``config``
    module beside its pipeline module, :data:`gan_pipelines.pipeline_registry.FAMILIES`), or None."""
    from gan_pipelines.pipeline_registry import FAMILIES

    module = FAMILIES.get(namespace)
    package = (module or "").rpartition(".")[0]
    if not package:  # unknown namespace, or a top-level family module: no config module beside it
        return None
    try:
        config = importlib.import_module(package + ".config")
    except ModuleNotFoundError as exc:
        if exc.name != package + ".config":
            raise
        return None
    return getattr(config, "check_stages", None)


def check_run_parameters(pipeline: Any, catalog: Any) -> None:
    """Check the pairs of parameters that span two stages (e.g. ``preprocess.resolution`` against
    ``train.augmentation.crop_size``) for every family whose parameters ``pipeline`` reads,
    using the validated parameters in ``catalog``. Only stages the pipeline reads are compared.
    Call it before the pipeline runs (``before_pipeline_run``); raises :class:`ParameterError`
    naming both keys."""
    stages: dict[str, dict[str, Any]] = {}
    for name in sorted(pipeline.inputs()):
        if not name.startswith("params:"):
            continue
        namespace, _, stage = name.removeprefix("params:").partition(".")
        if stage and "." not in stage:
            stages.setdefault(namespace, {})[stage] = catalog.load(name)
    for namespace, found in stages.items():
        check = _stage_check(namespace)
        if check is not None:
            check(namespace, found)


def other_node_trainings(pipeline: Any, catalog: Any) -> list[tuple[str, int, int]]:
    """The ``training`` blocks among the parameters ``pipeline`` reads that make this run node
    K > 0 of a training across machines (``nodes`` > 1, ``node_rank`` > 0), as
    ``(<family>.<stage>...training, node_rank, nodes)``; [] for an ordinary run (and for node
    0). Reads the validated parameters in ``catalog``, like :func:`check_run_parameters`."""
    found: list[tuple[str, int, int]] = []

    def walk(value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            return
        for key, item in value.items():
            if key == "training" and isinstance(item, Mapping):
                nodes, node_rank = item.get("nodes", 1), item.get("node_rank", 0)
                if isinstance(nodes, int) and isinstance(node_rank, int) and nodes > 1 and node_rank > 0:
                    found.append((f"{path}.training", node_rank, nodes))
            walk(item, f"{path}.{key}")

    for name in sorted(pipeline.inputs()):
        if name.startswith("params:"):
            value = catalog.load(name)
            if isinstance(value, (ConfigBlock, Mapping)):
                walk(as_plain(value), name.removeprefix("params:"))
    return found


# --------------------------------------------------------------------------------------------
# Nodes of a family module that serves several namespaces
# --------------------------------------------------------------------------------------------


def namespaced_node(function, inputs, outputs, name: str, *, stage_models=None, **kwargs: Any):
    """A Kedro ``Node`` of ``function`` with ``kwargs`` (``family=<namespace>``, a stage...) bound,
    keeping its name and docstring for Kedro and viz, and each ``params:<stage>`` argument
    annotated with that stage's model at ``<family>.<stage>`` (:meth:`StageParams.in_section`),
    so that Kedro validates the namespace's parameters before anything runs and errors name the
    full key. For family modules reused under several namespaces (Kedro pipeline reuse).
    ``stage_models(namespace, stage) -> model``, when given, picks the model instead of the
    argument's annotation (a family whose namespaces train different models: the annotation is
    then their common base)."""
    from functools import partial, update_wrapper

    from kedro.pipeline import Node

    bound = update_wrapper(partial(function, **kwargs), function)
    hints = typing.get_type_hints(function)
    pairs = inputs.items() if isinstance(inputs, dict) else zip(
        inspect.signature(function).parameters, [inputs] if isinstance(inputs, str) else inputs)
    annotations = dict(function.__annotations__)  # a copy: the function serves every namespace
    for argument, dataset in pairs:
        hint = hints.get(argument)
        if isinstance(hint, types.UnionType):  # `Model | None`: None is for direct calls, a run always has it
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        if dataset.startswith("params:") and isinstance(hint, type) and issubclass(hint, StageParams):
            stage = dataset.removeprefix("params:")
            annotations[argument] = (stage_models(kwargs["family"], stage) if stage_models is not None
                                     else hint.in_section(f"{kwargs['family']}.{stage}"))
    bound.__annotations__ = annotations
    return Node(bound, inputs, outputs, name=name)
