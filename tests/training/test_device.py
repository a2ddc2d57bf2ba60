import pytest
import torch

import gan_pipelines.training.device as device_module
from gan_pipelines.training.device import (
    BF16,
    FP16,
    FP32,
    autocast_context,
    configure_cpu_threads,
    cpu_supports_bf16,
    ready_for_inference,
    select_device,
    select_precision,
)


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend to have two CUDA devices; the test decides bf16 support."""

    def install(bf16: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)

    return install


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, fake_cuda, no_accelerator):
    assert select_device("auto") == torch.device("cpu")
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert select_device("auto") == torch.device("mps")
    fake_cuda(bf16=True)
    assert select_device("auto") == torch.device("cuda")


def test_explicit_devices(fake_cuda):
    fake_cuda(bf16=True)
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("CUDA") == torch.device("cuda")
    assert select_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"training\.device='cuda:2'.*only 2 CUDA"):
        select_device("cuda:2")


@pytest.mark.parametrize("preference", ["tpu", "cpu:0", "cuda:x", ""])
def test_unknown_device_is_refused(preference, fake_cuda):
    fake_cuda(bf16=True)
    with pytest.raises(ValueError, match=r"training\.device"):
        select_device(preference)


@pytest.mark.parametrize("preference", ["cuda", "cuda:0", "mps"])
def test_unavailable_device_is_refused(preference, no_accelerator):
    with pytest.raises(ValueError, match=r"training\.device=.*not available"):
        select_device(preference)


def test_cuda_precision(fake_cuda):
    cuda = torch.device("cuda")
    fake_cuda(bf16=True)
    assert select_precision(cuda) == BF16
    assert not BF16.needs_grad_scaler and BF16.autocast_dtype == torch.bfloat16
    fake_cuda(bf16=False)
    precision = select_precision(cuda, "auto")
    assert precision == FP16 and precision.needs_grad_scaler
    assert precision.autocast_dtype == torch.float16
    with pytest.raises(ValueError, match=r"training\.precision='bf16'.*GPU"):
        select_precision(cuda, "bf16")
    assert select_precision(cuda, "fp32") == FP32


def test_cpu_precision_follows_native_bf16_support(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: True)
    assert select_precision(cpu) == BF16
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: False)
    assert select_precision(cpu) == FP32
    assert select_precision(cpu, "bf16") == BF16  # allowed explicitly, with a warning
    with pytest.raises(ValueError, match=r"training\.precision='fp16'.*CPU"):
        select_precision(cpu, "fp16")


def test_mps_and_unknown_precision():
    assert select_precision(torch.device("mps")) == FP32
    with pytest.raises(ValueError, match=r"training\.precision='half'"):
        select_precision(torch.device("cpu"), "half")


def test_cpu_supports_bf16_uses_cpu_flags(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert cpu_supports_bf16() is True
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx2"})
    assert cpu_supports_bf16() is False


def test_autocast_context():
    cpu = torch.device("cpu")
    a = torch.randn(4, 4)
    with autocast_context(cpu, FP32):
        assert (a @ a).dtype == torch.float32
    with autocast_context(cpu, BF16):
        assert (a @ a).dtype == torch.bfloat16


def test_configure_cpu_threads():
    before = torch.get_num_threads()
    configure_cpu_threads(None)
    assert torch.get_num_threads() == before
    try:
        configure_cpu_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=r"training\.cpu_threads"):
            configure_cpu_threads(bad)


def test_ready_for_inference_converts_once_to_channels_last_in_eval_mode():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                torch.nn.Conv2d(8, 3, 3, padding=1)).train()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = model.eval()(x)
    model.train()
    assert ready_for_inference(model, torch.device("cpu")) is model
    assert not model.training and model[0].weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        got = model(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, atol=1e-5)
    pointer = model[0].weight.data_ptr()
    ready_for_inference(model, "cpu")  # ready already: nothing is copied
    assert model[0].weight.data_ptr() == pointer
