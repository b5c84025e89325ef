"""Model folders carry SHA-256 checksums written at save and checked at load (issue 21, item 4 of the report)."""

from __future__ import annotations

import json

import pytest

from classifiers.engine.baselines import TfidfLocalClassifier
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.manifest import MANIFEST_NAME, ModelFilesChanged, ModelPathRefused
from classifiers.engine.registry import load_model

TEXTS = ["goal striker match", "racket serve set", "oven flour dough", "broth ladle simmer"] * 3
NAMES = [["Sport", "Football"], ["Sport", "Tennis"], ["Food", "Baking"], ["Food", "Soup"]] * 3


@pytest.fixture
def saved(tmp_path):
    h = Hierarchy.from_paths(NAMES[:4])
    model = TfidfLocalClassifier().fit(TEXTS, [[h.path_from_names(n)] for n in NAMES], h)
    folder = tmp_path / "run-1"
    model.save(folder)
    return model, folder


def test_a_saved_folder_lists_the_checksum_of_every_file_and_loads(saved):
    model, folder = saved
    manifest = json.loads((folder / MANIFEST_NAME).read_text())["sha256"]
    assert set(manifest) == {"config.json", "tensors.safetensors"}
    assert load_model(folder).predict(TEXTS[:4]) == model.predict(TEXTS[:4])


def test_flipped_bytes_in_the_tensors_are_refused(saved):
    _, folder = saved
    tensors = folder / "tensors.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-5] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(ModelFilesChanged, match="model files changed since training"):
        load_model(folder)


@pytest.mark.parametrize("change", ["remove", "add", "no-manifest"])
def test_a_removed_added_file_or_a_missing_manifest_is_refused(saved, change):
    _, folder = saved
    if change == "remove":
        (folder / "tensors.safetensors").unlink()
    elif change == "add":
        (folder / "extra.bin").write_bytes(b"x")
    else:
        (folder / MANIFEST_NAME).unlink()
    with pytest.raises(ModelFilesChanged, match="model files changed since training"):
        load_model(folder)


def test_a_config_naming_a_file_outside_the_folder_and_model_paths_is_refused(saved, tmp_path):
    from classifiers.engine.manifest import write_manifest

    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["params"]["model_path"] = str(tmp_path / "elsewhere" / "encoder.bin")  # not a tfidf param, still a path
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder)  # even with matching checksums (someone rewrote them), the path is refused
    with pytest.raises(ModelPathRefused, match="outside its folder"):
        load_model(folder)
