"""Find, classify and run the commands of the documentation (README.md and docs/**/*.md).

A command is a line of a fenced ```bash block (a line ending in ``\\`` continues on the next).
Each command is classified by :func:`classify`:

* ``run``: run in a throwaway copy of the project whose ``conf/local/`` holds the tiny overlay
  (``tiny_overlay/*.yml``), so the documented commands run unchanged but a family's whole chain
  takes seconds;
* ``slow``: only makes sense at full length (``--env paper``, several GPUs, every family at once);
  run only by the tests marked ``slow``;
* ``not_run``: listed in :data:`NOT_RUN` with the reason (the README's set-up commands, which
  CI runs itself), and the runs across machines (``training.nodes`` > 1): one command per
  machine, all running at once, which a runner of one command after another cannot do
  (tests/training/test_multinode.py runs such a pair on one machine).

Anything else raises :class:`UnrecognisedCommand`, so the docs cannot gain an untested command.

Set-up a command needs (a user's folder) comes from a directive, an HTML comment on the lines
right before the block: ``<!-- docs-test: make-folder KIND PATH -->`` (see :data:`FOLDER_MAKERS`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TINY_OVERLAY = Path(__file__).resolve().parent / "tiny_overlay"
MAKE_FACADES = PROJECT_ROOT / "tests" / "external" / "make_facades.py"
MAKE_SEASONS = PROJECT_ROOT / "tests" / "external" / "make_seasons.py"

# The commands that are never run here, each with the reason.
README_SETUP = "python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e . && kedro run --pipeline shadow"
README_TESTS = 'python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e ".[test]" && pytest'
NOT_RUN: dict[str, str] = {
    README_SETUP: "run by .ci/run / CI (a fresh venv and install)",
    README_TESTS: "run by .ci/run / CI (it is the CI command itself)",
    "pip install -c constraints.txt -e .": "installs into the running environment; the README's set-up commands, run by .ci/run / CI, cover it",
    'pip install -c constraints.txt -e ".[test]"': "installs into the running environment; .ci/run / CI runs it",
    "bash .ci/refresh-lock": "installs the newest releases from the network and runs the whole suite",
    "sbatch train_pix2pix.sbatch": "needs a SLURM cluster",
}
SEVERAL_MACHINES = ("one command per machine, all running at once (training.nodes > 1), which commands run one after "
                    "another cannot be; tests/training/test_multinode.py runs two such nodes on one machine")

PAPER_REASON = "--env paper: the reference scale, hours without a GPU"
# What the tests copy into the throwaway project (tracked and untracked files under these).
PROJECT_PARTS = ("conf", "src", "dvc.yaml", ".dvc", ".dvcignore", ".gitignore", ".telemetry", "pyproject.toml",
                 "constraints.txt", "data/00_source/real_photos/.gitkeep")  # a dep of shadow_report


class UnrecognisedCommand(ValueError):
    """A docs command that no rule of :func:`classify` knows."""


@dataclass(frozen=True)
class Verdict:
    kind: str  # "run" | "slow" | "not_run"
    reason: str = ""


@dataclass(frozen=True)
class Block:
    """One ```bash block: where it starts, its directives and its commands."""

    page: Path
    line: int  # the fence's line, 1-based
    directives: tuple[tuple[str, ...], ...]
    commands: tuple[str, ...]
    lines: tuple[int, ...]  # each command's first line, 1-based


@dataclass
class CommandResult:
    page: str
    line: int
    command: str
    returncode: int
    seconds: float
    output: str


@dataclass
class PageRun:
    page: str
    results: list[CommandResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (command, reason)

    @property
    def failures(self) -> list[CommandResult]:
        return [result for result in self.results if result.returncode != 0]

    @property
    def seconds(self) -> float:
        return sum(result.seconds for result in self.results)


def doc_pages(root: Path = PROJECT_ROOT) -> list[Path]:
    """README.md and every Markdown page under docs/, in a fixed order."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def page_name(page: Path, root: Path = PROJECT_ROOT) -> str:
    return page.relative_to(root).as_posix()


DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->$")


def read_blocks(page: Path) -> list[Block]:
    """The ```bash blocks of ``page`` in order. Directive comments count when they stand on the
    lines right before the fence; blank lines and whole-line ``#`` comments are not commands."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    pending: list[tuple[str, ...]] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        directive = DIRECTIVE.match(stripped)
        if directive:
            pending.append(tuple(shlex.split(directive.group(1))))
        elif stripped.startswith("```"):
            fence_line = index + 1
            language = stripped[3:].strip()
            body = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith("```"):
                body.append(lines[index])
                index += 1
            if language == "bash":
                commands = join_commands(body)
                blocks.append(Block(page, fence_line, tuple(pending), tuple(c for _, c in commands),
                                    tuple(fence_line + offset for offset, _ in commands)))
            pending = []
        elif stripped:
            pending = []
        index += 1
    return blocks


def join_commands(body: list[str]) -> list[tuple[int, str]]:
    """``(line offset in the body, 1-based; command)`` for each command of a block body:
    continuation lines (ending in ``\\``) joined as bash joins them (backslash-newline removed),
    blank and comment-only lines dropped."""
    commands, current, first = [], "", None
    for offset, raw in enumerate(body, start=1):
        first = first or offset
        if raw.endswith("\\"):
            current += raw[:-1]
            continue
        command = (current + raw).strip()
        if command and not command.startswith("#"):
            commands.append((first, command))
        current, first = "", None
    if current.strip():
        commands.append((first, current.strip()))
    return commands


def _option_value(tokens: list[str], option: str) -> str | None:
    for i, token in enumerate(tokens):
        if token == option and i + 1 < len(tokens):
            return tokens[i + 1]
        if token.startswith(option + "="):
            return token.split("=", 1)[1]
    return None


def _more_than_one(tokens: list[str], setting: str) -> bool:
    """Whether ``--params`` sets ``<...>.training.<setting>`` above 1 (``devices``, ``nodes``)."""
    params = _option_value(tokens, "--params") or ""
    for pair in params.split(","):
        key, _, value = pair.partition("=")
        if key.strip().endswith(f"training.{setting}") and value.strip().isdigit() and int(value) > 1:
            return True
    return False


KEDRO_RUNNABLE = {("run",), ("registry", "list")}
GAN_PIPELINES_COMMANDS = {"families", "params", "predict", "export", "report", "prune"}
DVC_COMMANDS = {"repro", "dag", "metrics", "plots", "status", "commit", "add"}


def classify(command: str) -> Verdict:
    """What the docs tests do with ``command``; UnrecognisedCommand for anything no rule knows."""
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError as exc:
        raise UnrecognisedCommand(f"cannot parse {command!r}: {exc}") from None
    for listed, reason in NOT_RUN.items():  # compared without the trailing comment
        if tokens == shlex.split(listed):
            return Verdict("not_run", reason)
    if not tokens:
        raise UnrecognisedCommand(f"empty command {command!r}")
    program, args = tokens[0], tokens[1:]
    if program == "kedro" and any(tuple(args[: len(sub)]) == sub for sub in KEDRO_RUNNABLE):
        if args[0] == "run" and _option_value(args, "--env") == "paper":
            return Verdict("slow", PAPER_REASON)
        if args[0] == "run" and _more_than_one(args, "nodes"):
            return Verdict("not_run", SEVERAL_MACHINES)
        if args[0] == "run" and _more_than_one(args, "devices"):
            return Verdict("slow", "several GPUs (training.devices > 1)")
        return Verdict("run")
    if program == "gan-pipelines":
        if args and args[0] not in GAN_PIPELINES_COMMANDS:
            raise UnrecognisedCommand(f"unknown gan-pipelines command in {command!r}")
        if "--open" in args:
            raise UnrecognisedCommand(f"{command!r} opens a window; document it in the text, not in a bash block")
        if args and args[0] in ("predict", "export") and _option_value(args, "--env") == "paper":
            return Verdict("slow", PAPER_REASON)
        return Verdict("run")
    if program in ("python", "python3") and args[:2] == ["-m", "gan_pipelines.prune"]:
        return Verdict("run")
    if program == "dvc" and args and args[0] in DVC_COMMANDS:
        if args[0] == "repro" and not [a for a in args[1:] if not a.startswith("-")]:
            return Verdict("slow", "dvc repro of every family (37 stages)")
        return Verdict("run")
    if program == "echo" and "|" not in command and "&&" not in command and ";" not in command:
        return Verdict("run")
    raise UnrecognisedCommand(
        f"no rule for {command!r}: add a rule to tests/docs/doc_commands.py (run, slow or NOT_RUN with a reason)"
    )


# ---------------------------------------------------------------- folder makers


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured photo-like picture and a rectangle mask inside it."""
    ground = rng.integers(90, 200, (1, 1, 3)) + rng.normal(0, 12, (height, width, 3))
    photo = np.clip(ground, 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    top, left = height // 3, width // 3
    mask[top:top + height // 4, left:left + width // 4] = 255
    photo[mask > 0] = rng.integers(20, 240, 3)
    return photo, mask


def make_shadow_photos(path: Path) -> None:
    """``path/noshadow/*.png`` and ``path/mask/*.png``: photos for shadow.predict (two sizes)."""
    rng = np.random.default_rng(0)
    for name, (height, width) in (("kitchen", (48, 40)), ("street", (36, 52))):
        photo, mask = _scene(rng, height, width)
        _save(photo, path / "noshadow" / f"{name}.png")
        _save(mask, path / "mask" / f"{name}.png")


def make_shadow_ar(path: Path) -> None:
    """A Shadow-AR folder (or, when ``path`` ends in .zip, an archive of one): train 6 / test 2
    samples of 32x32 with all five kinds."""
    folder = path.with_suffix("") if path.suffix == ".zip" else path
    rng = np.random.default_rng(1)
    for split, count in (("train", 6), ("test", 2)):
        for i in range(count):
            photo, mask = _scene(rng, 32, 32)
            shadow = photo.copy()
            shadow[18:26, 8:20] = (shadow[18:26, 8:20] * 0.55).astype(np.uint8)
            robject = np.zeros((32, 32), np.uint8)
            robject[4:10, 22:28] = 255
            rshadow = np.zeros((32, 32), np.uint8)
            rshadow[10:13, 20:28] = 255
            for kind, array in (("noshadow", photo), ("shadow", shadow), ("mask", mask), ("robject", robject),
                                ("rshadow", rshadow)):
                _save(array, folder / split / kind / f"scene_{i}.png")
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for file in sorted(folder.rglob("*.png")):
                archive.write(file, file.relative_to(folder.parent).as_posix())
        shutil.rmtree(folder)


def _label_map(rng: np.random.Generator, size: int) -> np.ndarray:
    labels = np.zeros((size, size), np.uint8)
    labels[: size // 4] = 5  # sky
    for cls in (1, 2, 3, 4):
        top, left = rng.integers(size // 4, size - 8, 2)
        labels[top:top + 6, left:left + 6] = cls
    return labels


def make_label_maps(path: Path) -> None:
    """Two 32x32 class-index PNGs (classes 0..5, the embedded scenes' classes)."""
    rng = np.random.default_rng(2)
    for name in ("map1", "map2"):
        _save(_label_map(rng, 32), path / f"{name}.png")


def make_instance_maps(path: Path) -> None:
    """Instance-id PNGs named like :func:`make_label_maps`' maps."""
    rng = np.random.default_rng(2)
    for name in ("map1", "map2"):
        labels = _label_map(rng, 32)
        instances = np.zeros_like(labels)
        for i, cls in enumerate(np.unique(labels)):
            instances[labels == cls] = i
        _save(instances, path / f"{name}.png")


def make_sketches(path: Path) -> None:
    """Two RGB line drawings, dark lines on white."""
    for name, (height, width) in (("cup", (40, 50)), ("box", (32, 32))):
        sketch = np.full((height, width, 3), 255, np.uint8)
        sketch[8:28, 10] = sketch[8:28, 30] = sketch[8, 10:31] = sketch[27, 10:31] = 0
        _save(sketch, path / f"{name}.png")


def _labelled_pictures(rng: np.random.Generator):
    """``(split, index, labels, picture)`` for 12 train and 4 test 32x32 scenes: class maps
    (classes 0..5) and pictures painted from a random palette with noise."""
    palette = rng.integers(0, 255, (6, 3)).astype(np.uint8)
    for split, count in (("train", 12), ("test", 4)):
        for i in range(count):
            labels = _label_map(rng, 32)
            yield split, i, labels, np.clip(palette[labels] + rng.normal(0, 8, (32, 32, 3)), 0, 255).astype(np.uint8)


def make_paired_folders(path: Path) -> None:
    """The ``folders`` layout: {train,test}/{A,B,instance}/<name>.png, label maps in A (12
    train pictures: enough for the tiny overlay's batches of 8 after the val split)."""
    for split, i, labels, picture in _labelled_pictures(np.random.default_rng(3)):
        _save(labels, path / split / "A" / f"s{i}.png")
        _save(picture, path / split / "B" / f"s{i}.png")
        _save((labels > 0).astype(np.uint8), path / split / "instance" / f"s{i}.png")


def make_sketch_folders(path: Path) -> None:
    """Sketch pairs in the ``folders`` layout as the Kaggle anime pairs orient them (colour in A,
    sketch in B, so sketch2color's default ``direction: BtoA`` reads the sketch), with class maps
    in ``labels/`` for the judge: {train,test}/{A,B,labels}/<name>.png."""
    for split, i, labels, colour in _labelled_pictures(np.random.default_rng(4)):
        edges = np.zeros(labels.shape, bool)
        edges[:-1] |= labels[:-1] != labels[1:]
        edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
        sketch = np.where(edges[..., None], 0, 255).astype(np.uint8).repeat(3, axis=2)
        _save(colour, path / split / "A" / f"s{i}.png")
        _save(sketch, path / split / "B" / f"s{i}.png")
        _save(labels, path / split / "labels" / f"s{i}.png")


def make_aligned_facades(path: Path) -> None:
    """A CMP-facades-like aligned folder (and its palette JSON beside it), made by the standalone
    tests/external/make_facades.py with small counts."""
    if not MAKE_FACADES.is_file():
        raise FileNotFoundError(f"{MAKE_FACADES} is missing: the aligned-facades folder maker needs it")
    subprocess.run([sys.executable, str(MAKE_FACADES), str(path), "--size", "64", "--train", "8", "--test", "4"],
                   check=True, capture_output=True, text=True)


def make_season_folders(path: Path) -> None:
    """A summer -> winter folder in the CycleGAN layout (trainA/ trainB/ testA/ testB/, JPEG, same
    test names), made by the standalone tests/external/make_seasons.py with small counts."""
    subprocess.run([sys.executable, str(MAKE_SEASONS), str(path), "--size", "32", "--train", "12", "--test", "4"],
                   check=True, capture_output=True, text=True)


def make_landscapes(path: Path) -> None:
    """Two summer landscapes of different sizes (pictures to translate), from make_seasons.py."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, str(MAKE_SEASONS), scratch, "--size", "40", "--train", "1", "--test", "2"],
                       check=True, capture_output=True, text=True)
        path.mkdir(parents=True, exist_ok=True)
        for i, size in enumerate(((40, 40), (56, 36))):
            Image.open(Path(scratch) / "testA" / f"{i:04d}.jpg").resize(size).save(path / f"summer{i}.jpg")


FOLDER_MAKERS: dict[str, Callable[[Path], None]] = {
    "shadow-photos": make_shadow_photos,
    "shadow-ar": make_shadow_ar,
    "label-maps": make_label_maps,
    "instance-maps": make_instance_maps,
    "sketches": make_sketches,
    "paired-folders": make_paired_folders,
    "sketch-folders": make_sketch_folders,
    "aligned-facades": make_aligned_facades,
    "season-folders": make_season_folders,
    "landscapes": make_landscapes,
}


def check_directive(directive: tuple[str, ...]) -> None:
    """ValueError unless ``directive`` is ``make-folder <known kind> <relative path>``."""
    if len(directive) != 3 or directive[0] != "make-folder" or directive[1] not in FOLDER_MAKERS:
        raise ValueError(f"unknown docs-test directive {' '.join(directive)!r}; known: make-folder "
                         f"{{{', '.join(FOLDER_MAKERS)}}} PATH")
    if Path(directive[2]).is_absolute() or ".." in Path(directive[2]).parts:
        raise ValueError(f"docs-test directive path must be relative to the project: {directive[2]!r}")


def apply_directive(directive: tuple[str, ...], project: Path) -> None:
    check_directive(directive)
    FOLDER_MAKERS[directive[1]](project / directive[2])


# ---------------------------------------------------------------- the throwaway project


def make_project(target: Path) -> Path:
    """A copy of the project's files (tracked and untracked, not ignored; only PROJECT_PARTS) in
    ``target``, a fresh git repository (DVC needs one), with the tiny overlay as conf/local."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z", "--", *PROJECT_PARTS],
                            cwd=PROJECT_ROOT, check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    local = target / "conf" / "local"
    local.mkdir(parents=True, exist_ok=True)
    for overlay in sorted(TINY_OVERLAY.glob("*.yml")):
        shutil.copy2(overlay, local / overlay.name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    return target


def command_environment() -> dict[str, str]:
    """The environment of a docs command: this interpreter's bin folder first on PATH (kedro,
    dvc, gan-pipelines, python), no telemetry or update checks."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # One maths thread per command: the tests run two pages at once on small machines, and two
    # commands each starting one OpenMP thread per core slow each other down several times.
    env.update(KEDRO_DISABLE_TELEMETRY="1", NO_ALBUMENTATIONS_UPDATE="1", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_page(page: Path, project: Path, include_slow: bool, timeout_s: int = 600) -> PageRun:
    """Run the page's commands in order in ``project``; every command runs even after a failure
    (its result says so), so one report lists every broken command of the page."""
    run = PageRun(page_name(page))
    env = command_environment()
    for block in read_blocks(page):
        for directive in block.directives:
            apply_directive(directive, project)
        for line, command in zip(block.lines, block.commands):
            verdict = classify(command)
            if verdict.kind == "not_run" or (verdict.kind == "slow" and not include_slow):
                run.skipped.append((command, verdict.reason))
                continue
            start = time.monotonic()
            try:
                done = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True,
                                      timeout=timeout_s)
                returncode, output = done.returncode, done.stdout + done.stderr
            except subprocess.TimeoutExpired as exc:
                returncode, output = -1, f"timed out after {timeout_s} s\n{exc.stdout or ''}{exc.stderr or ''}"
            run.results.append(CommandResult(run.page, line, command, returncode,
                                             time.monotonic() - start, output))
    return run


def expected_cost(page: Path) -> int:
    """A rough relative cost of the page's default run, to start the longest pages first: a
    whole chain counts 3, a `dvc repro` 6, any other run command 1."""
    cost = 0
    for block in read_blocks(page):
        for command in block.commands:
            if classify(command).kind != "run":
                continue
            cost += 6 if command.startswith("dvc repro") else 3 if command.startswith("kedro run --pipeline ") else 1
    return cost


def describe_failures(run: PageRun, tail_lines: int = 30) -> str:
    parts = []
    for failure in run.failures:
        tail = "\n".join(failure.output.splitlines()[-tail_lines:])
        parts.append(f"{failure.page}:{failure.line}: `{failure.command}` exited {failure.returncode}\n{tail}")
    return "\n\n".join(parts)
