"""The new-run form bounds the seed like the API does: numpy's sampler refuses a negative seed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from classifiers.forms import RunForm
from classifiers.models import Run

pytestmark = pytest.mark.django_db


def data(seed) -> dict:
    return {"name": "", "strategy": "tfidf", "shots": 1, "seed": seed, "corrector": "", "params": "", "split": "test"}


@pytest.mark.parametrize(("seed", "valid"), [(-1, False), (0, True), (2**31 - 1, True), (2**31, False)])
def test_seed_is_bounded_to_a_non_negative_32_bit_integer(seed, valid):
    form = RunForm(data(seed))
    assert form.is_valid() is valid, form.errors
    if not valid:
        assert list(form.errors) == ["seed"]


def test_a_negative_seed_is_refused_on_the_page_and_starts_nothing(corpus_project, owner, client_for):
    url = reverse("classifiers:runs", args=[corpus_project.pk])
    response = client_for(owner).post(url, data(-5))
    assert response.status_code == 200
    assert b"greater than or equal to 0" in response.content
    assert not Run.objects.exists()
    accepted = client_for(owner).post(url, data(7))
    assert accepted.status_code == 302
    assert Run.objects.get().seed == 7
