"""A strategy's capabilities are declared beside its name in the registry, equal its class's attributes, and are
read by the web without importing the strategy's module (torch and transformers stay out of the web process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.engine import registry
from classifiers.engine.registry import Capabilities

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.db_independent
@pytest.mark.parametrize("name", sorted(registry.STRATEGIES))
def test_the_declared_capabilities_are_the_strategy_classs_attributes(name):
    assert registry.capabilities(name) == Capabilities.of(registry.strategy_class(name))


@pytest.mark.db_independent
def test_a_strategy_registered_without_a_declaration_gets_its_classs_capabilities():
    registry.register_strategy("llm-copy-test", registry.STRATEGIES["llm-dl"][0])
    try:
        assert registry.capabilities("llm-copy-test") == Capabilities(training_free=True, calls_llm=True)
    finally:
        registry.STRATEGIES.pop("llm-copy-test")
    with pytest.raises(ValueError, match="unknown strategy"):
        registry.capabilities("llm-copy-test")


# Every capability read the pages and forms make, in a process that has loaded every view. Then the
# one import that must bring torch in (a torch strategy's class), to show the probe would see it.
PROBE = """
import json, sys
import django
django.setup()
import htc_app.urls
from classifiers.engine import registry
from classifiers.growth import growth_refusal
from classifiers.models import Run
from classifiers.selectors import run_calls_llm
from classifiers.strategies import strategy_hooks

heavy = lambda: [m for m in ("torch", "transformers") if m in sys.modules]
before = heavy()
for name in registry.STRATEGIES:
    registry.capabilities(name)
    growth_refusal(name)
    hooks = strategy_hooks(name)
    hooks.training_free({})
    hooks.capabilities.supports_corrector
    run_calls_llm(Run(strategy=name, params={}))
after = heavy()
registry.strategy_class("hierverb")
print(json.dumps({"before": before, "after": after, "loaded": heavy()}))
"""


def test_reading_capabilities_does_not_import_torch_or_transformers(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "htc_app.settings", "HTC_DATA_DIR": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [] and seen["after"] == []
    assert "torch" in seen["loaded"]  # the probe sees a heavy import when one happens
