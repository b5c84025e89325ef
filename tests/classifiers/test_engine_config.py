"""The engine reads no environment: the app hands it the settings once (classifiers/apps.py)."""

from __future__ import annotations

import dataclasses

import pytest

from classifiers.engine.config import apply_torch_threads, configure, engine_config

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def test_the_app_hands_the_engine_its_settings(settings):
    config = engine_config()
    assert config.encoder_path == settings.HTC_ENCODER_PATH
    assert config.embedding_model_path == settings.HTC_EMBEDDING_MODEL_PATH
    assert config.torch_threads == settings.HTC_TORCH_THREADS
    assert config.llm_allowed_hosts == tuple(settings.HTC_LLM_ALLOWED_HOSTS)


def test_torch_threads_and_the_allow_list_take_effect():
    import torch

    from classifiers.engine.llm.netguard import UnsafeURLError, check_base_url

    before, threads = engine_config(), torch.get_num_threads()
    try:
        configure(torch_threads=1, llm_allowed_hosts=["10.1.2.3:8000"])
        apply_torch_threads()
        assert torch.get_num_threads() == 1
        assert check_base_url("http://10.1.2.3:8000/v1", resolve=False)
        configure(llm_allowed_hosts=[])
        with pytest.raises(UnsafeURLError):
            check_base_url("http://10.1.2.3:8000/v1", resolve=False)
    finally:
        configure(**dataclasses.asdict(before))
        torch.set_num_threads(threads)
