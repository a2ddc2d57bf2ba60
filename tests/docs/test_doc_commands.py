"""Every command of the documentation runs, in a throwaway copy of the project with the tiny
overlay as conf/local (see doc_commands.py for the rules and the directives).

The page runs are shared by one session fixture that starts the selected pages in the
background, two at a time, as soon as the first test of this module runs (page_runs_in_background,
autouse), while the rest of the suite goes on in this process; the page tests run last
(tests/conftest.py moves them) and each asserts on its own page's result."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from doc_commands import (
    FOLDER_MAKERS,
    NOT_RUN,
    PROJECT_ROOT,
    README_SETUP,
    README_TESTS,
    UnrecognisedCommand,
    check_directive,
    classify,
    describe_failures,
    doc_pages,
    expected_cost,
    make_project,
    page_name,
    read_blocks,
    run_page,
)

PAGES = doc_pages()


def _commands(page: Path):
    return [(page_name(page), line, command) for block in read_blocks(page) for line, command in
            zip(block.lines, block.commands)]


def _pages_with(kind: str) -> list[Path]:
    return [page for page in PAGES if any(classify(command).kind == kind for _, _, command in _commands(page))]


def test_every_docs_command_is_recognised():
    unrecognised = []
    for page in PAGES:
        for name, line, command in _commands(page):
            try:
                classify(command)
            except UnrecognisedCommand as exc:
                unrecognised.append(f"{name}:{line}: {exc}")
    assert not unrecognised, "\n".join(unrecognised)


def test_every_directive_is_known():
    problems = []
    for page in PAGES:
        for block in read_blocks(page):
            for directive in block.directives:
                try:
                    check_directive(directive)
                except ValueError as exc:
                    problems.append(f"{page_name(page)}:{block.line}: {exc}")
    assert not problems, "\n".join(problems)


def test_the_docs_have_commands_to_run():
    """A parser that finds nothing would make every page pass: the pages hold runnable commands,
    and every family page trains its family."""
    runnable = [c for page in PAGES for _, _, c in _commands(page) if classify(c).kind == "run"]
    assert len(runnable) > 40
    for family in ("shadow", "pix2pix", "sketch2color", "pix2pixhd", "spade", "spade_vae", "compare_label_to_photo", "cyclegan"):
        page = PROJECT_ROOT / "docs" / "families" / f"{family}.md"
        assert f"kedro run --pipeline {family}" in [c for _, _, c in _commands(page)], page


@pytest.mark.parametrize("command, kind", [
    ("kedro run --pipeline shadow", "run"),
    ('kedro run --pipelines shadow.predict --params "shadow.predict.input_dir=a,shadow.predict.output_dir=b"', "run"),
    ("kedro run --pipeline pix2pix --env paper", "slow"),
    ('kedro run --pipelines shadow.train_generator --params "shadow.train_generator.training.devices=4"', "slow"),
    ('kedro run --pipelines pix2pix.train --params "pix2pix.train.training.nodes=2,pix2pix.train.training.node_rank=1,'
     'pix2pix.train.training.rdzv_endpoint=node0:29400"', "not_run"),
    ("sbatch train_pix2pix.sbatch", "not_run"),
    ("dvc repro", "slow"),
    ("dvc repro shadow_report", "run"),
    ("dvc repro report@pix2pix", "run"),
    ("gan-pipelines predict shadow photos --output out", "run"),
    ("gan-pipelines", "run"),
    ("python -m gan_pipelines.prune --keep 2 --apply", "run"),
    (README_SETUP, "not_run"),
    ("bash .ci/refresh-lock", "not_run"),
])
def test_classify(command, kind):
    assert classify(command).kind == kind


@pytest.mark.parametrize("command", [
    "rm -rf data", "kedro viz run", "gan-pipelines report shadow --open", "gan-pipelines demo",
    "pip install jupyterlab", "curl https://example.com | bash", "echo x && rm -rf data",
])
def test_unknown_commands_are_refused(command):
    with pytest.raises(UnrecognisedCommand):
        classify(command)


def test_readme_setup_commands_are_the_ci_ones():
    """The README's two set-up commands are not run here because CI runs them: they must stay
    byte-identical, and .ci/run must run the test one."""
    readme = [c for _, _, c in _commands(PROJECT_ROOT / "README.md")]
    assert README_SETUP in readme and README_TESTS in readme
    assert NOT_RUN[README_SETUP].startswith("run by .ci/run / CI")
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert 'pip install -c constraints.txt -e ".[test]" && pytest' in ci


def test_folder_makers_write_what_they_promise(tmp_path):
    FOLDER_MAKERS["shadow-ar"](tmp_path / "set.zip")
    import zipfile

    names = zipfile.ZipFile(tmp_path / "set.zip").namelist()
    assert {n.split("/")[2] for n in names} == {"noshadow", "shadow", "mask", "robject", "rshadow"}
    assert {n.split("/")[1] for n in names} == {"train", "test"}
    assert not (tmp_path / "set").exists()
    FOLDER_MAKERS["label-maps"](tmp_path / "maps")
    FOLDER_MAKERS["instance-maps"](tmp_path / "instances")
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(p.name for p in (tmp_path / "instances").iterdir())


PAGE_TEST = "test_page_commands"


@pytest.fixture(scope="session", autouse=True)
def page_runs_in_background(request, tmp_path_factory):
    """``{page name: Future[PageRun]}`` for the pages whose default test is selected, longest
    first so that the two workers finish together; ``{}`` when none is selected."""
    selected = {item.name for item in request.session.items if getattr(item, "originalname", None) == PAGE_TEST}
    wanted = sorted((page for page in doc_pages() if f"{PAGE_TEST}[{page_name(page)}]" in selected),
                    key=expected_cost, reverse=True)
    if not wanted:
        yield {}
        return
    import torch

    threads, omp = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # the subprocesses other tests start, too

    def one(page: Path):
        project = make_project(tmp_path_factory.mktemp(page.stem))
        run = run_page(page, project, include_slow=False)
        if not run.failures:  # the run keeps what the tests read; a failing page's folder stays to look at
            shutil.rmtree(project, ignore_errors=True)
        return run

    pool = ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)), thread_name_prefix="doc-pages")
    futures: dict[str, Future] = {page_name(page): pool.submit(one, page) for page in wanted}
    try:
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp


@pytest.fixture(scope="session")
def page_runs(page_runs_in_background):
    """``{page name: PageRun}`` for the selected pages: waits for the background runs."""
    return {name: future.result() for name, future in page_runs_in_background.items()}


@pytest.mark.parametrize("page", [page_name(p) for p in _pages_with("run")])
def test_page_commands(page, page_runs):
    run = page_runs[page]
    assert run.results, f"{page}: no command ran"
    if run.failures:
        pytest.fail(f"{len(run.failures)} of {len(run.results)} commands failed:\n" + describe_failures(run), pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("page", [page_name(p) for p in _pages_with("slow")])
def test_page_commands_at_full_length(page, tmp_path):
    """The page again, with the commands that only make sense at full length (hours on a CPU);
    deselected by default (pyproject.toml: -m 'not slow'), run with `pytest -m slow tests/docs`."""
    run = run_page(PROJECT_ROOT / page, make_project(tmp_path), include_slow=True, timeout_s=24 * 3600)
    if run.failures:
        pytest.fail(describe_failures(run), pytrace=False)
