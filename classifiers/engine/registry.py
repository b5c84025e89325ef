"""Strategy names -> estimator classes. Imports lazily so a strategy's heavy deps load only when used."""

from __future__ import annotations

import importlib
import json
from pathlib import Path as FsPath

from classifiers.engine.manifest import check_path_params, verify_manifest

# name -> "module:Class"
STRATEGIES: dict[str, str] = {
    "tfidf": "classifiers.engine.baselines:TfidfLocalClassifier",
    "embed": "classifiers.engine.baselines:EmbeddingLocalClassifier",
    "zeroshot": "classifiers.engine.zeroshot:ZeroShotClassifier",
    "hierverb": "classifiers.engine.verbalizer:HierVerbClassifier",
    "hiericrf": "classifiers.engine.hiericrf:HierICRFClassifier",
    "llm-dl": "classifiers.engine.llm.strategies:LLMDirectLeaf",
    "llm-dh": "classifiers.engine.llm.strategies:LLMDirectHierarchical",
    "llm-tmh": "classifiers.engine.llm.strategies:LLMTopDownMultiStep",
    "cascade": "classifiers.engine.cascade:CascadeClassifier",
    "weak": "classifiers.engine.coldstart:WeakSupervisionClassifier",
    "ensemble": "classifiers.engine.ensemble:EnsembleClassifier",
    "auto": "classifiers.engine.auto:AutoClassifier",
}


def register_strategy(name: str, target: str) -> None:
    STRATEGIES[name] = target


def strategy_class(name: str):
    try:
        module_name, class_name = STRATEGIES[name].split(":")
    except KeyError as exc:
        known = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown strategy {name!r}; known strategies: {known}") from exc
    return getattr(importlib.import_module(module_name), class_name)


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
