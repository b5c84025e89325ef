"""Device choice with a fake torch (no GPU here): auto = CUDA, then MPS, then CPU; explicit choices checked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from classifiers.engine.devices import autocast, autocast_dtype, needs_grad_scaler, resolve_device


def fake_torch(*, cuda: bool = False, mps: bool = False, bf16: bool = True, count: int = 1):
    return SimpleNamespace(
        cuda=SimpleNamespace(
            is_available=lambda: cuda, device_count=lambda: count if cuda else 0, is_bf16_supported=lambda: bf16
        ),
        backends=SimpleNamespace(mps=SimpleNamespace(is_available=lambda: mps)),
        bfloat16="bf16",
        float16="fp16",
        autocast=lambda device_type, dtype: ("autocast", device_type, dtype),
    )


def test_auto_prefers_cuda_then_mps_then_cpu():
    assert resolve_device("auto", torch_module=fake_torch(cuda=True, mps=True)) == "cuda"
    assert resolve_device("auto", torch_module=fake_torch(mps=True)) == "mps"
    assert resolve_device("auto", torch_module=fake_torch()) == "cpu"
    assert resolve_device(None, torch_module=fake_torch()) == "cpu"
    assert resolve_device(" CUDA ", torch_module=fake_torch(cuda=True)) == "cuda"


def test_explicit_devices_are_honoured_or_refused_clearly():
    assert resolve_device("cpu", torch_module=fake_torch(cuda=True)) == "cpu"
    assert resolve_device("cuda:1", torch_module=fake_torch(cuda=True, count=2)) == "cuda:1"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda", torch_module=fake_torch())
    with pytest.raises(ValueError, match="2 CUDA"):
        resolve_device("cuda:2", torch_module=fake_torch(cuda=True, count=2))
    with pytest.raises(ValueError, match="no Apple MPS"):
        resolve_device("mps", torch_module=fake_torch(cuda=True))
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu", torch_module=fake_torch())
    # fallback: a model trained on a GPU loads where there is none
    assert resolve_device("cuda", torch_module=fake_torch(), fallback=True) == "cpu"


def test_mixed_precision_only_on_cuda_bf16_where_supported():
    gpu = fake_torch(cuda=True)
    assert autocast_dtype("cuda", torch_module=gpu) == "bf16"
    assert autocast_dtype("cuda:0", torch_module=fake_torch(cuda=True, bf16=False)) == "fp16"
    assert autocast_dtype("cpu", torch_module=gpu) is None and autocast_dtype("mps", torch_module=gpu) is None
    assert autocast("cuda", torch_module=gpu) == ("autocast", "cuda", "bf16")
    assert needs_grad_scaler("cuda", torch_module=fake_torch(cuda=True, bf16=False))
    assert not needs_grad_scaler("cuda", torch_module=gpu) and not needs_grad_scaler("cpu", torch_module=gpu)
    with autocast("cpu", torch_module=gpu):  # a no-op context on the CPU
        pass


def test_torch_strategies_take_a_device_and_record_the_one_used():
    from classifiers.engine.registry import strategy_class

    for name in ("zeroshot", "embed", "hierverb", "hiericrf"):
        cls = strategy_class(name)
        assert "device" in cls._get_param_names(), name
        assert cls().get_params()["device"] == "auto"


def test_the_configured_device_is_what_auto_means():
    from classifiers.engine.config import configure, engine_config

    before = engine_config().device
    try:
        configure(device="cpu")  # HTC_DEVICE=cpu on a machine with a GPU
        assert resolve_device("auto", torch_module=fake_torch(cuda=True)) == "cpu"
        assert resolve_device("cuda", torch_module=fake_torch(cuda=True)) == "cuda"  # a run's own choice wins
        configure(device="cuda")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("auto", torch_module=fake_torch())
    finally:
        configure(device=before)
    assert resolve_device("auto", torch_module=fake_torch(cuda=True)) == "cuda"
