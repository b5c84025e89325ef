"""Strategy names -> estimator classes and what they can do. Imports lazily so a strategy's heavy deps (torch,
transformers) load only when it is used: its capabilities are read here without importing it."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, fields
from pathlib import Path as FsPath

from classifiers.engine.manifest import check_path_params, verify_manifest


@dataclass(frozen=True)
class Capabilities:
    """A strategy's capability attributes (documented on `base.HierarchicalClassifier`), readable without importing
    it. tests/classifiers/test_capabilities.py checks each registered declaration equals its class's attributes."""

    training_free: bool = False
    supports_growth: bool = False
    supports_corrector: bool = True
    multi_path: bool = False
    uses_torch: bool = False
    calls_llm: bool = False

    @classmethod
    def of(cls, estimator_class) -> Capabilities:
        return cls(**{f.name: bool(getattr(estimator_class, f.name)) for f in fields(cls)})


LLM = Capabilities(training_free=True, calls_llm=True)

# name -> ("module:Class", its capabilities)
STRATEGIES: dict[str, tuple[str, Capabilities]] = {
    "tfidf": ("classifiers.engine.baselines:TfidfLocalClassifier", Capabilities(supports_growth=True)),
    "embed": (
        "classifiers.engine.baselines:EmbeddingLocalClassifier",
        Capabilities(supports_growth=True, uses_torch=True),
    ),
    "zeroshot": ("classifiers.engine.zeroshot:ZeroShotClassifier", Capabilities(training_free=True, uses_torch=True)),
    "hierverb": (
        "classifiers.engine.verbalizer:HierVerbClassifier",
        Capabilities(supports_growth=True, multi_path=True, uses_torch=True),
    ),
    "hiericrf": ("classifiers.engine.hiericrf:HierICRFClassifier", Capabilities(uses_torch=True)),
    "llm-dl": ("classifiers.engine.llm.strategies:LLMDirectLeaf", LLM),
    "llm-dh": ("classifiers.engine.llm.strategies:LLMDirectHierarchical", LLM),
    "llm-tmh": ("classifiers.engine.llm.strategies:LLMTopDownMultiStep", LLM),
    "cascade": ("classifiers.engine.cascade:CascadeClassifier", Capabilities(supports_corrector=False)),
    "weak": ("classifiers.engine.coldstart:WeakSupervisionClassifier", Capabilities()),
    "ensemble": ("classifiers.engine.ensemble:EnsembleClassifier", Capabilities()),
    "auto": ("classifiers.engine.auto:AutoClassifier", Capabilities()),
}


def _load(target: str):
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def register_strategy(name: str, target: str, capabilities: Capabilities | None = None) -> None:
    """Add a strategy; without `capabilities` they are read from its class (which this imports)."""
    STRATEGIES[name] = (target, Capabilities.of(_load(target)) if capabilities is None else capabilities)


def _entry(name: str) -> tuple[str, Capabilities]:
    try:
        return STRATEGIES[name]
    except KeyError as exc:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown strategy {name!r}; known strategies: {known}") from exc


def capabilities(name: str) -> Capabilities:
    """What strategy `name` can do, without importing its module (ValueError for an unknown name)."""
    return _entry(name)[1]


def strategy_class(name: str):
    return _load(_entry(name)[0])


def make_strategy(name: str, **params):
    return strategy_class(name)(**params)


def configured_model_paths() -> list[str]:
    """The operator's encoder folders (HTC_ENCODER_PATH, HTC_EMBEDDING_MODEL_PATH, or the packaged model)."""
    from classifiers.engine.embeddings import default_encoder_path as embedding_path
    from classifiers.engine.plm import default_encoder_path

    return [default_encoder_path(), embedding_path()]


def load_model(directory: str | FsPath):
    """Load a run's model folder after checking it: its files must match the checksums written at save
    (`ModelFilesChanged`: "model files changed since training"), and config values naming files must stay inside
    the folder or the configured model paths (`ModelPathRefused`)."""
    verify_manifest(directory)
    config = json.loads((FsPath(directory) / "config.json").read_text())
    check_path_params(config, directory, configured_model_paths)
    return load_estimator(directory)


def load_estimator(directory: str | FsPath):
    """Load a saved estimator of any strategy from its directory (config.json names the strategy)."""
    config = json.loads((FsPath(directory) / "config.json").read_text())
    return strategy_class(config["strategy"]).load(directory)
