"""``gan-pipelines``: the project's command line (also ``python -m gan_pipelines``).

```bash
gan-pipelines families                              # what each family learns and its stages
gan-pipelines params <family>.<stage>              # effective parameters, comments, source env
gan-pipelines predict pix2pix maps/ one.png --output pictures/
gan-pipelines export pix2pix                        # the latest model as ONNX
gan-pipelines report shadow --open                  # the latest HTML report
gan-pipelines prune --keep 3 --apply                # python -m gan_pipelines.prune's options
```

Built on Kedro's session API: the commands that run something run the registered pipelines
(``<family>.predict``, ``<family>.export``) through ``KedroSession``, so the catalog, the
environments (``--env``) and the hooks apply exactly as for ``kedro run``. Training is ``kedro run
--pipelines <family>``; nothing here trains, and bare ``gan-pipelines`` only prints help.

Kedro also adds these commands to ``kedro`` itself (it merges a project's ``cli.py`` group), so
``kedro families`` works too. Heavy libraries (torch, the pipelines) are imported inside the
commands: ``gan-pipelines --help`` starts without them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

ENV_HELP = "Kedro environment whose conf/<env> overrides conf/base (default: local, or $KEDRO_ENV)."
PARAMS_HELP = ("Runtime parameters, as for kedro run: 'key=value,key2=value2' with dotted keys "
               "(e.g. <family>.predict.device=cpu).")
DESCRIPTION_WIDTH = 100


# ------------------------------------------------------------------ shared options and helpers

def _split_params(ctx: click.Context, param: click.Parameter, value: Any) -> dict[str, Any]:
    """``--params 'a.b=1,c=x'`` -> ``{"a": {"b": 1}, "c": "x"}``, as ``kedro run --params`` reads
    it (OmegaConf dot-list: values typed as YAML). Kedro's own parser is not imported here:
    importing it sets up Kedro's logging before the command is inside the project folder."""
    from omegaconf import OmegaConf

    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    for item in items:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} must be key=value with a non-empty key", ctx=ctx, param=param)
    return OmegaConf.to_container(OmegaConf.from_dotlist([f"{k.strip()}={v}" for k, _, v in
                                                          (item.partition("=") for item in items)]))


def _split_load_versions(ctx: click.Context, param: click.Parameter, value: Any) -> dict[str, str]:
    """``--load-versions 'a:v1,b:v2'`` -> ``{"a": "v1", "b": "v2"}`` (kedro run's syntax)."""
    versions = {}
    for item in filter(None, (part.strip() for part in (value or "").split(","))):
        name, sep, version = item.partition(":")
        if not sep or not name or not version:
            raise click.BadParameter(f"{item!r} must be dataset:version", ctx=ctx, param=param)
        versions[name] = version
    return versions


def project_options(command):
    """``--env`` and ``--project`` for a command that reads the project's configuration."""
    command = click.option("--env", "-e", default=None, help=ENV_HELP)(command)
    return click.option(
        "--project", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
        help="Kedro project folder (default: the one holding the current folder).",
    )(command)


def project_root(project: Path | None) -> Path:
    """``project`` or the Kedro project holding the current folder; ClickException when there
    is none."""
    from kedro.utils import find_kedro_project, is_kedro_project

    root = project.resolve() if project is not None else find_kedro_project(Path.cwd())
    if root is None or not is_kedro_project(root):
        where = project or Path.cwd()
        raise click.ClickException(
            f"{where} is not inside a Kedro project (no pyproject.toml with [tool.kedro] there or above); "
            "run gan-pipelines in the project folder or pass --project"
        )
    return Path(root)


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run inside ``path``: parameters hold paths relative to the project folder, as for ``kedro run``."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Log only warnings and errors from logger ``name`` inside the block."""
    import logging

    target = logging.getLogger(name)
    level = target.level
    target.setLevel(logging.WARNING)
    try:
        yield
    finally:
        target.setLevel(level)


@contextlib.contextmanager
def project_session(root: Path, env: str | None, runtime_params: Mapping[str, Any] | None = None):
    """A ``KedroSession`` of the project at ``root``, run with ``root`` as the working directory."""
    with working_directory(root):
        # imported here: Kedro picks conf/logging.yml of the working directory when first imported
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        bootstrap_project(root)
        with KedroSession.create(project_path=root, env=env, runtime_params=dict(runtime_params or {})) as session:
            yield session


def raw_parameters(context: Any) -> dict[str, Any]:
    """The run's parameters as the YAML files and --params give them (plain dicts), after Kedro
    has validated them: ``context.params`` holds the typed stage objects, which neither print as
    YAML nor carry only what the files set."""
    with quiet_logger("kedro.validation"):  # its "no typed parameter requirements" line
        context.params  # noqa: B018 (validates every stage; a bad key fails here, naming it)
    return context.config_loader["parameters"]


def family_stages() -> dict[str, dict[str, Any]]:
    """``{family: {stage: Pipeline}}`` from the pipeline registry, stages in the family's own
    order; ``""`` is the family's training chain."""
    from gan_pipelines.pipeline_registry import FAMILIES, family_pipelines

    return {
        family: {name.partition(".")[2]: pipeline for name, pipeline in family_pipelines(family, module).items()}
        for family, module in FAMILIES.items()
    }


def chain_and_other_stages(stages: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(stages of the training chain, the other stages), each in registry order."""
    chain_nodes = set(stages[""].nodes) if "" in stages else set()
    named = [stage for stage in stages if stage]
    in_chain = [stage for stage in named if chain_nodes and set(stages[stage].nodes) <= chain_nodes]
    return in_chain, [stage for stage in named if stage not in in_chain]


def check_family(family: str, stages: Mapping[str, Mapping[str, Any]]) -> None:
    if family not in stages:
        raise click.BadParameter(
            f"unknown family {family!r}; registered families: {', '.join(stages)}", param_hint="FAMILY"
        )


def merge_nested(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively with ``extra`` (a new dict; neither is changed)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_nested(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (key path, value) of a nested mapping whose value is not a non-empty mapping."""
    if isinstance(value, Mapping) and value:
        for key, child in value.items():
            yield from leaves(child, (*path, str(key)))
    else:
        yield path, value


def stage_writing(dataset: str, stages: Mapping[str, Any]) -> str | None:
    """The first stage (registry order) whose pipeline outputs ``dataset`` (transcoding ignored)."""
    base = dataset.split("@")[0]
    for stage, pipeline in stages.items():
        if stage and base in {name.split("@")[0] for name in pipeline.outputs()}:
            return stage
    return None


def run_failed(exc: Exception) -> click.ClickException:
    """A failed run as a CLI error: the node's own message (it names the file or parameter)."""
    return click.ClickException(f"{type(exc).__name__}: {exc}")


# Exceptions the stages raise for the user's inputs and settings; anything else keeps its traceback.
USER_ERRORS = (ValueError, FileExistsError, FileNotFoundError, KeyError)


# ------------------------------------------------------------------ the group

@click.group(name="gan-pipelines", invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Reproducible GAN image-to-image pipelines (Kedro project gan_pipelines).

    Train a family with `kedro run --pipelines <family>`; these commands show what there is and
    use what was trained. Bare `gan-pipelines` prints this help and runs nothing.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


# ------------------------------------------------------------------ families

def family_description(root: Path, family: str, stages: Mapping[str, Any]) -> str:
    """What ``family`` learns, in one line: the first sentence of the header comment of its
    last training stage's ``conf/base/<family>/parameters_<stage>.yml`` (the family's own
    description of its model), else of its first parameters file; ``""`` when there is none."""
    folder = root / "conf" / "base" / family
    chain, _ = chain_and_other_stages(stages)
    training = [stage for stage in chain if stage.startswith("train")]
    candidates = [folder / f"parameters_{stage}.yml" for stage in reversed(training)]
    candidates += sorted(folder.glob("parameters*.yml")) if folder.is_dir() else []
    for path in candidates:
        if path.is_file():
            header = header_comment(path.read_text(encoding="utf-8"))
            if header:
                return first_sentence(header)
    return ""


def header_comment(text: str) -> str:
    """The ``#`` comment lines before the first key of a YAML file, joined with spaces."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            lines.append(stripped.lstrip("#").strip())
        elif stripped:
            break
    return " ".join(line for line in lines if line)


def first_sentence(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    """The first sentence of ``text``, without a leading ``kedro run ...:`` command or
    ``<family>.<stage>:`` section name, capitalised, at most ``width`` characters (cut with an
    ellipsis)."""
    text = re.sub(r"^kedro run [^:]*:\s*", "", text)
    text = re.sub(r"^\w+\.\w+:\s*", "", text)
    text = text[:1].upper() + text[1:]
    match = re.search(r"[.;](\s|$)", text)
    sentence = text[: match.start() + 1] if match else text
    return sentence if len(sentence) <= width else sentence[: width - 1].rstrip() + "…"


@cli.command()
@click.option("--project", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Kedro project folder (default: the one holding the current folder).")
def families(project: Path | None) -> None:
    """List the registered families: what each learns and its stages.

    Families and stages come from the pipeline registry; the one-line description is the
    header comment of the family's training parameters in conf/base.
    """
    root = project_root(project)
    for family, stages in family_stages().items():
        chain, others = chain_and_other_stages(stages)
        click.echo(f"{family}")
        description = family_description(root, family, stages)
        if description:
            click.echo(f"    {description}")
        if chain:
            click.echo(f"    chain (kedro run --pipelines {family}): {' -> '.join(chain)}")
        else:
            click.echo(f"    run: kedro run --pipelines {family}")
        if others:
            click.echo(f"    also: {', '.join(others)}")


# ------------------------------------------------------------------ params

KEY_LINE = re.compile(r"""^(?P<indent> *)(?P<key>"[^"]*"|'[^']*'|[^\s#'"-][^#]*?)\s*:(?=\s|$)(?P<rest>.*)$""")


def inline_comment(rest: str) -> str:
    """The ``# comment`` after a YAML value (outside quotes), or ``""``."""
    quote = None
    for index, char in enumerate(rest):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or rest[index - 1].isspace()):
            return rest[index + 1:].strip()
    return ""


def yaml_comments(text: str) -> tuple[dict[tuple[str, ...], list[str]], dict[tuple[str, ...], str]]:
    """The comments of a block-style YAML mapping, by key path: (comment lines right above each
    key, the comment after each key's value). A file's header comment belongs to its first key.
    Keys merged in with ``<<: *anchor`` have none."""
    above: dict[tuple[str, ...], list[str]] = {}
    after: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = KEY_LINE.match(line)
        if not match:  # a list item or a continuation line
            pending = []
            continue
        indent, key = len(match["indent"]), match["key"].strip().strip("'\"")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if key == "<<":
            pending = []
            continue
        path = (*(name for _, name in stack), key)
        stack.append((indent, key))
        if pending:
            above[path] = pending
            pending = []
        comment = inline_comment(match["rest"])
        if comment:
            after[path] = comment
    return above, after


def header_key_path(content: Any) -> tuple[str, ...]:
    """The key path a file's header comment describes: down from the top while each mapping has
    a single key (``{shadow: {predict: {...}}}`` -> ``("shadow", "predict")``)."""
    path: tuple[str, ...] = ()
    while isinstance(content, Mapping) and len(content) == 1:
        key, content = next(iter(content.items()))
        path = (*path, str(key))
    return path


def parameter_files(conf_root: Path, env: str, patterns: list[str]) -> list[Path]:
    """The parameter files of ``conf/<env>`` that Kedro's config loader reads (its patterns)."""
    folder = conf_root / env
    if not folder.is_dir():
        return []
    found = {path for pattern in patterns for path in folder.glob(pattern)
             if path.is_file() and path.suffix in (".yml", ".yaml", ".json")
             and not any(part.startswith(".") for part in path.relative_to(folder).parts)}
    return sorted(found)


class ParameterSources:
    """Where each parameter comes from: per key path, the environment (``base``, ``local``,
    ``paper``, ``--params``) and file that set it last, and the comments of every file that
    mentions it (base first)."""

    def __init__(self, conf_root: Path, envs: list[str], patterns: list[str], runtime_params: Mapping[str, Any]):
        import yaml

        self.setters: dict[tuple[str, ...], tuple[int, str]] = {}
        self.above: dict[tuple[str, ...], list[str]] = {}
        self.after: dict[tuple[str, ...], list[str]] = {}
        self.files: dict[str, list[Path]] = {}
        order = 0
        for env in envs:
            for path in parameter_files(conf_root, env, patterns):
                text = path.read_text(encoding="utf-8")
                content = yaml.safe_load(text) or {}
                for key_path, _ in leaves(content):
                    order += 1
                    self.setters[key_path] = (order, env)
                self.files.setdefault(env, []).append(path)
                above, after = yaml_comments(text)
                header_path = header_key_path(content)
                if header_path and next(iter(above), None) == header_path[:1]:
                    # the file's header describes what the file holds: its single section
                    above[header_path] = above.pop(header_path[:1]) + above.get(header_path, [])
                for key_path, lines in above.items():
                    self.above.setdefault(key_path, [])
                    self.above[key_path] += [line for line in lines if line not in self.above[key_path]]
                for key_path, comment in after.items():
                    self.after.setdefault(key_path, [])
                    if comment not in self.after[key_path]:
                        self.after[key_path].append(comment)
        for key_path, _ in leaves(runtime_params):
            order += 1
            self.setters[key_path] = (order, "--params")

    def source(self, key_path: tuple[str, ...]) -> str:
        """The environment that set ``key_path`` last (itself or a whole parent mapping)."""
        candidates = [self.setters[key_path[:n]] for n in range(len(key_path), 0, -1) if key_path[:n] in self.setters]
        return max(candidates)[1] if candidates else "?"

    def files_of(self, prefix: tuple[str, ...]) -> dict[str, list[Path]]:
        """The files (by environment) that set something under ``prefix``."""
        import yaml

        used: dict[str, list[Path]] = {}
        for env, paths in self.files.items():
            for path in paths:
                content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                node: Any = content
                for key in prefix:
                    node = node.get(key) if isinstance(node, Mapping) else None
                if node is not None:
                    used.setdefault(env, []).append(path)
        return used


def format_value(value: Any) -> str:
    """A parameter value as YAML flow text (``null``, ``true``, ``[1, 2]``, ``{a: 1}``)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def render_parameters(value: Mapping[str, Any], prefix: tuple[str, ...], sources: ParameterSources) -> list[str]:
    """YAML-like lines of ``value`` (the parameters under ``prefix``), each key preceded by its
    comments; each leaf ends with ``[<env>]`` and its inline comment."""
    rows: list[tuple[str, str]] = []  # (text, suffix)

    def walk(node: Mapping[str, Any], path: tuple[str, ...], depth: int) -> None:
        pad = "  " * depth
        for key, child in node.items():
            key_path = (*path, str(key))
            for line in sources.above.get(key_path, []):
                rows.append((f"{pad}# {line}", ""))
            if isinstance(child, Mapping) and child:
                rows.append((f"{pad}{key}:", "  # " + " / ".join(sources.after[key_path]) if key_path in sources.after else ""))
                walk(child, key_path, depth + 1)
            else:
                comment = "  # " + " / ".join(sources.after[key_path]) if key_path in sources.after else ""
                rows.append((f"{pad}{key}: {format_value(child)}", f"[{sources.source(key_path)}]{comment}"))

    walk(value, prefix, 0)
    width = max((len(text) for text, suffix in rows if suffix.startswith("[")), default=0)
    return [f"{text:<{width}}  {suffix}".rstrip() if suffix.startswith("[") else f"{text}{suffix}" for text, suffix in rows]


@cli.command()
@click.argument("target", metavar="FAMILY[.STAGE]")
@click.option("--params", "runtime_params", default="", callback=_split_params, help=PARAMS_HELP)
@project_options
def params(target: str, runtime_params: dict[str, Any], env: str | None, project: Path | None) -> None:
    """Show the effective parameters of a family or one of its stages.

    Values are those a run would use (conf/base merged with the environment, then --params);
    each line says where its value comes from: [base], [local], [paper] (the environment's
    name) or [--params], with the guidance comments of the YAML files.
    """
    root = project_root(project)
    stages = family_stages()
    family, _, stage = target.partition(".")
    check_family(family, stages)
    with project_session(root, env, runtime_params) as session:
        context = session.load_context()
        loader = context.config_loader
        effective = raw_parameters(context)
        run_env = loader.env or loader.default_run_env
        envs = [loader.base_env] + ([run_env] if run_env and run_env != loader.base_env else [])
        sources = ParameterSources(Path(loader.conf_source), envs, list(loader.config_patterns["parameters"]),
                                   runtime_params)
    family_params = effective.get(family)
    if family_params is None:
        raise click.ClickException(f"no parameters for {family} in conf/{', conf/'.join(envs)}")
    # a registered stage, or another section of the family's parameters (one that no stage is named after)
    sections = [name for name in stages[family] if name]
    if isinstance(family_params, Mapping):
        sections += [key for key, value in family_params.items() if isinstance(value, Mapping) and key not in sections]
    if stage and stage not in sections:
        raise click.BadParameter(
            f"{family} has no stage or parameter section {stage!r}; valid: {', '.join(sections) or 'none'}",
            param_hint="FAMILY[.STAGE]",
        )
    prefix = (family, stage) if stage else (family,)
    section = family_params.get(stage) if stage else family_params
    if section is None:
        raise click.ClickException(f"{family}.{stage} has no parameters in conf/{', conf/'.join(envs)}")
    click.echo(f"# {'.'.join(prefix)}: effective parameters for environment {run_env!r}")
    for env_name, paths in sources.files_of(prefix).items():
        click.echo(f"# [{env_name}] " + ", ".join(str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
                                                  for path in paths))
    if runtime_params:
        click.echo("# [--params] the command line")
    body = section if isinstance(section, Mapping) else {prefix[-1]: section}
    path = prefix if isinstance(section, Mapping) else prefix[:-1]
    for key_path_comment in sources.above.get(prefix, []) if isinstance(section, Mapping) else []:
        click.echo(f"# {key_path_comment}")
    for line in render_parameters(body, path, sources):
        click.echo(line)


# ------------------------------------------------------------------ predict

def stage_inputs(inputs: list[Path], staging: Path) -> int:
    """Link (or, where links are not allowed, copy) the pictures of ``inputs`` into ``staging``:
    a file goes to its top level; a folder gives every image directly in it, and the images of
    its sub-folders into same-named sub-folders (for a stage that reads its inputs by kind
    sub-folders). OS litter (.DS_Store, ...) is ignored. Returns the number of files placed.
    ClickException listing every problem, nothing staged: a file that is not a PNG/JPEG image
    (given or inside a folder: refused, as the predict stages refuse them), two inputs giving the
    same name."""
    from gan_pipelines.image_inputs import is_litter, not_an_image

    placed: dict[Path, Path] = {}
    problems = []

    def add(relative: Path, source: Path) -> None:
        if relative in placed and placed[relative] != source:
            problems.append(f"{placed[relative]} and {source} would both be {relative}; rename one")
        placed[relative] = source

    def add_file(relative: Path, source: Path) -> None:
        # refused, never dropped: as the predict stages treat their own input folder
        reason = "a folder inside a sub-folder" if source.is_dir() else not_an_image(source.name)
        if reason:
            problems.append(f"{source}: {reason}")
        else:
            add(relative, source)

    for item in inputs:
        if item.is_dir():
            for path in sorted(item.iterdir()):
                if is_litter(path.name):
                    continue
                if path.is_dir():
                    for inner in sorted(path.iterdir()):
                        if not is_litter(inner.name):
                            add_file(Path(path.name) / inner.name, inner)
                else:
                    add_file(Path(path.name), path)
        else:
            add_file(Path(item.name), item)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) with the inputs, nothing was run:\n  " + "\n  ".join(problems))
    if not placed:
        raise click.ClickException(f"no PNG/JPEG pictures in {', '.join(map(str, inputs))}")
    for relative, source in placed.items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.symlink_to(source.resolve())
        except OSError:
            shutil.copy2(source, target)
    return len(placed)


def check_model_exists(catalog: Any, family: str, stage: str, stages: Mapping[str, Any]) -> None:
    """ClickException when a dataset that ``<family>.<stage>`` reads (its trained model) has no
    saved version, naming the pipeline that writes it."""
    from gan_pipelines.hooks import dataset_path

    for name in sorted(stages[stage].inputs()):
        if name.startswith("params:") or name == "parameters":
            continue
        dataset = catalog.get(name)
        if dataset is None or dataset.exists():
            continue
        writer = stage_writing(name, stages)
        how = (f"kedro run --pipelines {family}" + (f" (or at least up to {family}.{writer})" if writer else ""))
        raise click.ClickException(
            f"no trained model for {family}: {name.split('@')[0]} has nothing saved at {dataset_path(dataset, None)}; "
            f"train first: {how}"
        )


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()} if folder.is_dir() else set()


@cli.command()
@click.argument("family")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the outputs; created if needed; existing files in it are never replaced.")
@click.option("--params", "runtime_params", default="", callback=_split_params,
              help=PARAMS_HELP + " Use it for the stage's other settings, e.g. <family>.predict.backend=onnx.")
@click.option("--load-versions", default="", callback=_split_load_versions,
              help="Pin a model version instead of the latest: dataset:version,... (as for kedro run).")
@project_options
def predict(family: str, inputs: tuple[Path, ...], output: Path, runtime_params: dict[str, Any],
            load_versions: dict[str, str], env: str | None, project: Path | None) -> None:
    """Run FAMILY's trained model on INPUT files or folders; write to --output.

    Runs the <family>.predict pipeline with the latest trained model. A folder stands for every
    image in it (for a family whose inputs come in kind sub-folders, see `gan-pipelines params
    <family>.predict`, pass folders with that layout). Several inputs are staged in a temporary folder of
    links; the outputs keep the input names. Nothing in --output is overwritten: the stage stops
    before writing if any output file exists.
    """
    root = project_root(project)
    stages = family_stages()
    check_family(family, stages)
    if "predict" not in stages[family]:
        with_predict = [name for name, own in stages.items() if "predict" in own]
        raise click.ClickException(
            f"{family} has no predict stage; families with one: {', '.join(with_predict)}"
        )
    inputs = [path.resolve() for path in inputs]
    output = output.resolve()
    with contextlib.ExitStack() as stack:
        if len(inputs) == 1 and inputs[0].is_dir():
            input_dir = inputs[0]
        else:
            input_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gan-pipelines-predict-")))
            count = stage_inputs(inputs, input_dir)
            click.echo(f"Staged {count} input file(s) in {input_dir}")
        overlay = {family: {"predict": {"input_dir": str(input_dir), "output_dir": str(output)}}}
        run_params = merge_nested(runtime_params, overlay)
        before = files_under(output)
        with project_session(root, env, run_params) as session:
            context = session.load_context()
            section = (raw_parameters(context).get(family) or {}).get("predict") or {}
            missing = [key for key in ("input_dir", "output_dir") if key not in section]
            if missing:
                raise click.ClickException(f"{family}.predict has no {' or '.join(missing)} parameter to point at the inputs")
            if section.get("backend", "torch") != "onnx":
                check_model_exists(context.catalog, family, "predict", stages[family])
            try:
                session.run(pipeline_names=[f"{family}.predict"], load_versions=load_versions)
            except USER_ERRORS as exc:
                raise run_failed(exc) from exc
    written = sorted(files_under(output) - before)
    click.echo(f"Wrote {len(written)} file(s) to {output}")


# ------------------------------------------------------------------ export

@cli.command()
@click.argument("family")
@click.option("--params", "runtime_params", default="", callback=_split_params,
              help=PARAMS_HELP + " E.g. <family>.export.overwrite=true to replace an earlier export.")
@click.option("--load-versions", default="", callback=_split_load_versions,
              help="Pin a model version instead of the latest: dataset:version,... (as for kedro run).")
@project_options
def export(family: str, runtime_params: dict[str, Any], load_versions: dict[str, str], env: str | None,
           project: Path | None) -> None:
    """Export FAMILY's latest trained model as ONNX and print where the files went.

    Runs the <family>.export pipeline; the file's path is <family>.export.output_path (an
    existing file is replaced only with <family>.export.overwrite=true). Families with two
    generators (cyclegan) write one file per direction beside it, <stem>_a2b.onnx and
    <stem>_b2a.onnx, and those are printed.
    """
    root = project_root(project)
    stages = family_stages()
    check_family(family, stages)
    if "export" not in stages[family]:
        with_export = [name for name, own in stages.items() if "export" in own]
        raise click.ClickException(f"{family} has no export stage; families with one: {', '.join(with_export)}")
    with project_session(root, env, runtime_params) as session:
        context = session.load_context()
        output_path = ((raw_parameters(context).get(family) or {}).get("export") or {}).get("output_path")
        if not output_path:
            raise click.ClickException(f"{family}.export.output_path is not set")
        check_model_exists(context.catalog, family, "export", stages[family])
        try:
            outputs = session.run(pipeline_names=[f"{family}.export"], load_versions=load_versions)
        except USER_ERRORS as exc:
            raise run_failed(exc) from exc
        files = exported_files(outputs, family)

    def absolute(name: str) -> Path:
        return Path(name) if Path(name).is_absolute() else root / name

    if files:  # e.g. cyclegan: one file per direction beside output_path, which itself is not written
        for label, name in files.items():
            click.echo(f"ONNX model ({label}): {absolute(name)}")
    else:
        click.echo(f"ONNX model: {absolute(output_path)}")


def exported_files(outputs: Mapping[str, Any] | None, family: str) -> dict[str, str]:
    """``{label: path}`` of the files the ``<family>.export`` summary lists under ``files`` (the
    unpaired families write one file per direction, ``<stem>_a2b.onnx`` and ``<stem>_b2a.onnx``);
    empty when the summary names no files (one file at ``output_path``) or cannot be read.
    ``outputs``: what ``session.run`` returns (dataset objects of the pipeline's outputs)."""
    from kedro.io import DatasetError

    dataset = (outputs or {}).get(f"{family}.export_summary")
    if dataset is None:
        return {}
    try:
        with quiet_logger("gan_pipelines.datasets.versioning"):  # its "loading version ..." line
            summary = dataset.load() if hasattr(dataset, "load") else dataset
    except (DatasetError, OSError, ValueError):
        return {}
    files = summary.get("files") if isinstance(summary, Mapping) else None
    if not isinstance(files, Mapping):
        return {}
    return {str(label): str(name) for label, name in files.items()}


# ------------------------------------------------------------------ report

@cli.command()
@click.argument("family")
@click.option("--open", "open_report", is_flag=True, help="Open the report with the system's viewer.")
@project_options
def report(family: str, open_report: bool, env: str | None, project: Path | None) -> None:
    """Print the path of FAMILY's latest HTML report (<family>.report_html in the catalog)."""
    from gan_pipelines.hooks import latest_path

    root = project_root(project)
    stages = family_stages()
    check_family(family, stages)
    name = f"{family}.report_html"
    writers = [f"{family}.{stage}" if stage else family for stage, pipeline in stages[family].items()
               if name in pipeline.outputs()]
    if not writers:
        raise click.ClickException(f"{family} writes no HTML report (no pipeline of it outputs {name})")
    with project_session(root, env) as session, quiet_logger("kedro.validation"):
        dataset = session.load_context().catalog.get(name)
        path = latest_path(dataset) if dataset is not None and dataset.exists() else None
    if path is None:
        raise click.ClickException(
            f"no report for {family} yet; make one with: " + " or ".join(f"kedro run --pipelines {w}" for w in writers)
        )
    click.echo(path)
    if open_report:
        click.launch(path)


# ------------------------------------------------------------------ prune

@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
             add_help_option=False)
@click.argument("prune_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def prune(ctx: click.Context, prune_args: tuple[str, ...]) -> None:
    """List saved snapshots with sizes; delete all but the newest N (python -m gan_pipelines.prune).

    Every option is python -m gan_pipelines.prune's: --keep, --keep-states, --apply,
    --load-versions, --env, --project, --all; `gan-pipelines prune --help` lists them.
    """
    from gan_pipelines import prune as prune_module

    args = list(prune_args)
    if "--project" not in args and not any(arg.startswith("--project=") for arg in args) and not (
        {"-h", "--help"} & set(args)
    ):
        args = ["--project", str(project_root(None)), *args]
    ctx.exit(prune_module.main(args))


# ------------------------------------------------------------------ demo

@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on: 127.0.0.1 is this computer only; 0.0.0.0 exposes the page to the "
                   "network (see docs/demo.md).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=4_194_304, show_default=True,
              help="Largest image accepted (width x height); larger ones are refused with a message.")
@click.option("--device", default="auto", show_default=True, help="Where the models run: auto, cpu, cuda, cuda:N or mps.")
@project_options
def demo(port: int, host: str, max_pixels: int, device: str, env: str | None, project: Path | None) -> None:
    """Serve the interactive demo page (Shadow; Label map -> photo; Sketch -> colour) with the
    latest trained models, until Ctrl+C. See docs/demo.md."""
    root = project_root(project)
    with working_directory(root):
        import importlib

        from gan_pipelines.pipeline_registry import DEMO_MODULE

        serve = importlib.import_module(DEMO_MODULE).serve  # gradio and torch only load for this command
        from gan_pipelines.params import ParameterError

        try:
            serve(root, env=env, host=host, port=port, max_pixels=max_pixels, device=device)
        except ParameterError as exc:
            raise click.ClickException(str(exc)) from None


def main() -> None:
    """The console script ``gan-pipelines``."""
    cli(prog_name="gan-pipelines")


if __name__ == "__main__":
    main()
