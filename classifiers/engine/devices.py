"""Which torch device a strategy runs on, and mixed precision there. No Django, no apps.

`resolve_device("auto")` picks the configured device (`EngineConfig.device`, HTC_DEVICE in the app) when one
is set, else CUDA, then Apple MPS, then the CPU; an explicit "cuda", "cuda:1", "mps" or
"cpu" is honoured, or refused with a clear error when this machine has no such device. `autocast(device)`
is bf16 (fp16 where bf16 is unsupported) autocast on CUDA and a no-op elsewhere. `torch_module` lets tests
pass a fake torch that pretends to have a GPU.
"""

from __future__ import annotations

import contextlib
from typing import Any

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _torch(torch_module: Any = None) -> Any:
    if torch_module is not None:
        return torch_module
    import torch

    return torch


def _mps_available(torch: Any) -> bool:
    backends = getattr(torch, "backends", None)
    mps = getattr(backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(preference: str | None = "auto", *, torch_module: Any = None, fallback: bool = False) -> str:
    """The device name to use: "cuda" / "cuda:N", "mps" or "cpu". With `fallback`, a device this machine
    lacks resolves as "auto" (loading a model trained elsewhere) instead of raising."""
    torch = _torch(torch_module)
    pref = str(preference or "auto").strip().lower()
    kind = pref.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N), not {preference!r}")
    if fallback:
        try:
            return resolve_device(pref, torch_module=torch)
        except ValueError:
            return resolve_device("auto", torch_module=torch)
    if kind == "auto":
        from classifiers.engine.config import engine_config

        configured = str(engine_config().device or "auto").strip().lower()
        if configured != "auto":  # the operator's choice (HTC_DEVICE) for every strategy left at "auto"
            return resolve_device(configured, torch_module=torch, fallback=fallback)
        if torch.cuda.is_available():
            return "cuda"
        if _mps_available(torch):
            return "mps"
        return "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {preference!r} was asked for, but this machine has no CUDA GPU")
        if ":" in pref:
            index = int(pref.split(":", 1)[1])
            if index >= int(torch.cuda.device_count()):
                raise ValueError(f"device {preference!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        return pref
    if kind == "mps" and not _mps_available(torch):
        raise ValueError("device 'mps' was asked for, but this machine has no Apple MPS device")
    return kind


def autocast_dtype(device: str, *, torch_module: Any = None) -> Any:
    """The autocast dtype for `device`: bf16 on CUDA when supported, else fp16; None off CUDA."""
    torch = _torch(torch_module)
    if not str(device).startswith("cuda"):
        return None
    supported = getattr(torch.cuda, "is_bf16_supported", None)
    return torch.bfloat16 if supported is not None and supported() else torch.float16


def autocast(device: str, *, enabled: bool = True, torch_module: Any = None):
    """Mixed-precision context for forward passes on `device` (a no-op on the CPU and MPS)."""
    torch = _torch(torch_module)
    dtype = autocast_dtype(device, torch_module=torch) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def needs_grad_scaler(device: str, *, torch_module: Any = None) -> bool:
    """fp16 training needs loss scaling; bf16 and fp32 do not."""
    torch = _torch(torch_module)
    return autocast_dtype(device, torch_module=torch) is torch.float16
