"""Strategy names -> estimator classes. Imports lazily so a strategy's heavy deps load only when used."""

from __future__ import annotations

import importlib
import json
from pathlib import Path as FsPath

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


def load_estimator(directory: str | FsPath):
    """Load a saved estimator of any strategy from its directory (config.json names the strategy)."""
    config = json.loads((FsPath(directory) / "config.json").read_text())
    return strategy_class(config["strategy"]).load(directory)
