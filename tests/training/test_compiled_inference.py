"""torch.compile with Inductor's freezing for inference: the same outputs as the eager module,
eager whenever gradients are on, and an eager fallback that says why when compiling fails."""

import pytest
import torch
from torch import nn

from gan_pipelines.training.compiled_inference import InferenceCompiled, compile_for_inference


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    with torch.no_grad():  # BatchNorm statistics away from the identity, so folding them matters
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_compiled_module_gives_the_eager_outputs_and_says_so():
    net = _net()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = net(x)
        wrapped = compile_for_inference(net)
        assert wrapped.status == "not compiled yet"
        got = wrapped(x)
    from conftest import compile_status_is_right

    assert compile_status_is_right(wrapped.status), wrapped.status
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert len(list(wrapped.parameters())) == len(list(net.parameters())), "parameters are not listed twice"


def test_with_gradients_on_the_eager_module_runs():
    net = _net()
    wrapped = compile_for_inference(net)
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    out = wrapped(x)
    out.sum().backward()  # eager autograd: freezing would have made the weights constants
    assert wrapped.status == "not compiled yet" and x.grad is not None


def test_a_failed_compile_falls_back_to_eager_and_records_why(caplog):
    net = _net()
    wrapped = compile_for_inference(net)

    def no_compiler(*args, **kwargs):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")

    wrapped.__dict__["_compiled"] = no_compiler
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        got = wrapped(x)
        torch.testing.assert_close(got, net(x))
    assert wrapped.status == "eager: compiling failed (RuntimeError: InvalidCxxCompiler: No working C++ compiler found)"
    assert "running Sequential eagerly" in caplog.text
    # a wrong input still fails as it does eagerly, not as a compiler error
    with torch.no_grad(), pytest.raises(RuntimeError, match="expected input"):
        wrapped(torch.randn(1, 5, 8, 8))


def test_attributes_of_the_module_are_read_through():
    net = _net()
    net.threshold = 0.25
    wrapped = InferenceCompiled(net)
    assert wrapped.threshold == 0.25 and wrapped.module is net
    with pytest.raises(AttributeError):
        wrapped.no_such_attribute
