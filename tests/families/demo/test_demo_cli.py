"""`gan-pipelines demo`'s options: their defaults are the demo's settings, and bad values stop it
with a message naming the option, before any model loads."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from gan_pipelines.cli import cli
from gan_pipelines.families.demo.config import DemoParams


def test_the_options_defaults_are_the_demo_settings():
    command = cli.commands["demo"]
    defaults = {option.name: option.default for option in command.params}
    assert {key: defaults[key] for key in ("host", "port", "max_pixels", "device")} == DemoParams().model_dump()
    assert DemoParams().host == "127.0.0.1"  # this computer only, unless told otherwise


def test_demo_help_loads_neither_gradio_nor_torch():
    code = ("import sys; from click.testing import CliRunner; from gan_pipelines.cli import cli; "
            "r = CliRunner().invoke(cli, ['demo', '--help']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('gradio', 'torch') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "0"], "Invalid value for '--port': 0 is not in the range 1<=x<=65535"),
    (["--max-pixels", "0"], "Invalid value for '--max-pixels': 0 is not in the range x>=1"),
    (["--max-pixels", "100000000"], "demo.max_pixels: Input should be less than or equal to 89478485"),
    (["--device", "tpu"], "device='tpu' is not understood"),
])
def test_bad_options_stop_the_demo_with_their_message(tmp_path, args, message):
    from conftest import copy_project

    project = copy_project(tmp_path / "project")  # nothing trained: the options are checked before any model loads
    result = CliRunner().invoke(cli, ["demo", "--project", str(project), *args])
    assert result.exit_code != 0 and message in result.output, result.output
