"""The LLM endpoint settings: owner-only page, encrypted key shown only by its last 4, SSRF checked on save."""

from __future__ import annotations

import json
import os
import stat

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from classifiers.engine.llm.strategies import LLMDirectHierarchical
from classifiers.strategies import apply_endpoint
from endpoints.crypto import decrypt_secret
from endpoints.models import LLMEndpoint
from endpoints.services import endpoint_client_kwargs, endpoint_save
from projects.models import Role

KEY = "sk-live-THISISSECRET-9f3Q"


def save(project, actor, **overrides):
    data = {"base_url": "http://127.0.0.1:8081/v1", "model": "smollm2-135m-instruct", "api_key": KEY}
    return endpoint_save(project=project, actor=actor, **{**data, **overrides})


@pytest.mark.django_db
def test_the_key_is_stored_encrypted_and_decrypts_for_the_client(project, owner, settings):
    endpoint = save(project, owner, price_in_per_1k="0.5", price_out_per_1k="1.5")
    row = LLMEndpoint.objects.get(pk=endpoint.pk)
    assert KEY not in row.api_key_encrypted and row.api_key_last4 == "9f3Q"
    assert decrypt_secret(row.api_key_encrypted) == KEY
    kwargs = endpoint_client_kwargs(project)
    assert kwargs["api_key"] == KEY and kwargs["price_out_per_1k"] == 1.5 and kwargs["concurrency"] == 2
    key_file = settings.HTC_DATA_DIR / "fernet_key"
    if not settings.HTC_FERNET_KEY:
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


@pytest.mark.django_db
def test_saving_without_a_key_keeps_the_stored_one_and_clearing_removes_it(project, owner):
    save(project, owner)
    save(project, owner, api_key="", model="other")
    assert endpoint_client_kwargs(project)["api_key"] == KEY
    save(project, owner, api_key="", clear_api_key=True)
    row = LLMEndpoint.objects.get(project=project)
    assert row.api_key_encrypted == "" and row.api_key_last4 == ""


@pytest.mark.django_db
def test_a_project_without_an_endpoint_uses_the_local_default_server(project, settings):
    kwargs = endpoint_client_kwargs(project)
    assert kwargs["base_url"] == settings.HTC_LLM_BASE_URL and kwargs["api_key"] == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/v1", "http://127.0.0.1:6379", "https://[::1]/v1", "https://2130706433/v1"]
)
def test_internal_base_urls_are_refused_at_save_time(project, owner, url):
    with pytest.raises(ValidationError) as err:
        save(project, owner, base_url=url)
    assert "base_url" in err.value.error_dict
    assert not LLMEndpoint.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_templates_with_unknown_placeholders_or_no_document_are_refused(project, owner):
    with pytest.raises(ValidationError):
        save(project, owner, templates={"dl": "{labels} {document.__class__}"})
    with pytest.raises(ValidationError):
        save(project, owner, templates={"dh": "{labels} only"})
    endpoint = save(project, owner, templates={"tmh": "Pick from {labels}: {document}", "dl": ""})
    assert endpoint.templates == {"tmh": "Pick from {labels}: {document}"}


@pytest.mark.django_db
def test_only_owners_may_change_the_endpoint_through_the_service(project, make_user, add_member):
    annotator = make_user("ann")
    add_member(project, annotator, Role.ANNOTATOR)
    with pytest.raises(PermissionDenied):
        save(project, annotator)


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [(Role.VIEWER, 403), (Role.ANNOTATOR, 403), (None, 404)])
def test_the_settings_page_is_for_owners_only(project, make_user, add_member, client_for, role, status):
    user = make_user("someone")
    if role:
        add_member(project, user, role)
    client = client_for(user)
    url = reverse("endpoints:settings", args=[project.pk])
    assert client.get(url).status_code == status
    response = client.post(url, {"base_url": "https://api.example.com/v1", "model": "x"})
    assert response.status_code == status
    assert not LLMEndpoint.objects.filter(project=project).exists()


@pytest.mark.django_db
def test_the_owner_saves_the_endpoint_and_the_page_shows_only_the_last_four(project, owner, client_for):
    client = client_for(owner)
    url = reverse("endpoints:settings", args=[project.pk])
    form = {
        "base_url": "http://127.0.0.1:8081/v1",
        "model": "smollm2-135m-instruct",
        "api_key": KEY,
        "price_in_per_1k": "0",
        "price_out_per_1k": "0",
        "concurrency": "3",
        "timeout": "30",
        "template_dl": "",
    }
    response = client.post(url, form)
    assert response.status_code == 302
    assert LLMEndpoint.objects.get(project=project).concurrency == 3
    page = client.get(url).content.decode()
    assert KEY not in page and KEY[:-4] not in page and "…9f3Q" in page
    assert "<script>" not in page and 'style="' not in page


@pytest.mark.django_db
def test_a_refused_url_is_reported_on_the_form_and_nothing_is_saved(project, owner, client_for):
    client = client_for(owner)
    url = reverse("endpoints:settings", args=[project.pk])
    form = {
        "base_url": "http://169.254.169.254/latest",
        "model": "m",
        "concurrency": "2",
        "timeout": "60",
        "price_in_per_1k": "0",
        "price_out_per_1k": "0",
        "api_key": KEY,
    }
    response = client.post(url, form)
    assert response.status_code == 200 and b"allowed only for operator-approved hosts" in response.content
    assert KEY.encode() not in response.content
    assert not LLMEndpoint.objects.exists()


@pytest.mark.django_db
def test_the_key_reaches_the_strategy_at_runtime_only_never_its_params_or_a_job(project, owner):
    from jobs.models import Job

    save(project, owner, templates={"dh": "Tree:\n{labels}\n{document}"})
    est = apply_endpoint(project=project, estimator=LLMDirectHierarchical(k=1))
    params = est.get_params()
    assert params["model"] == "smollm2-135m-instruct" and params["templates"] == {"dh": "Tree:\n{labels}\n{document}"}
    job = Job.objects.create(project=project, kind="classifier_run", params={"strategy": "llm-dh", "params": params})
    job.refresh_from_db()
    assert KEY not in json.dumps(job.params) and KEY not in json.dumps(params)
    assert est._runtime["api_key"] == KEY


@pytest.mark.django_db
def test_node_descriptions_reach_the_prompt_when_asked(project, owner, build_tree):
    from classifiers.adapters import hierarchy_for_taxonomy

    nodes = build_tree(project, {"CS": {"ML": {}}, "Med": {}})
    nodes["CS > ML"].description = "Learning from data"
    nodes["CS > ML"].save(update_fields=["description"])
    h = hierarchy_for_taxonomy(project.taxonomy)
    est = LLMDirectHierarchical(use_descriptions=True).fit([], [], h)
    apply_endpoint(project=project, estimator=est)
    assert est.label_descriptions == {h.index[nodes["CS > ML"].pk]: "Learning from data"}
