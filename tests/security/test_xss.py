"""Hostile text is inert everywhere (reliability.md #18): document text, label, project, corpus, file and user
names, run names, LLM raw output, job errors and parameters, in every UI page, the admin, the error pages
(403, upload and taxonomy-import errors echo the file name and field) and the exports.

Every page is also checked for what the strict CSP would block and report: no inline script that runs (only
json_script data blocks), no on* handler attributes, no style attributes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.security.routes import ROUTES
from tests.security.test_permission_matrix import PATTERNS, url_for
from tests.security.world import HOSTILE, PAYLOADS, make_hostile

pytestmark = pytest.mark.django_db


class _CSPAudit(HTMLParser):
    """Collects what a strict CSP would block: inline scripts that run, on* handlers, style attributes."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name.lower(): value for name, value in attrs}
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        self.problems += [f"<{tag} {n}=...>" for n in names if n.startswith("on") or n == "style"]
        href = (names.get("href") or names.get("action") or names.get("src") or "").strip().lower()
        if href.startswith(("javascript:", "data:text/html", "vbscript:")):
            self.problems.append(f"<{tag}> with a {href.split(':')[0]}: URL")


JSON_BLOCK = re.compile(r'(<script id="[^"]*" type="application/json">)(.*?)(</script>)', re.S)


def assert_inert(body: str, where: str) -> None:
    """No payload survives as markup; json_script data blocks hold no '<' (so nothing can close them)."""
    for block in JSON_BLOCK.findall(body):
        assert "<" not in block[1] and ">" not in block[1], f"{where}: markup inside a JSON data block"
    body = JSON_BLOCK.sub("", body)
    for payload in PAYLOADS[:4]:
        assert payload not in body, f"{where}: raw {payload!r} in the page"
    audit = _CSPAudit()
    audit.feed(body)
    assert audit.problems == [], f"{where}: {audit.problems}"


@pytest.fixture
def hostile(worlds):
    """Alpha with hostile text in every field people see."""
    return make_hostile(worlds[0])


@pytest.mark.parametrize("route", [r for r in ROUTES if r.get is not None], ids=lambda r: r.name or "root")
def test_hostile_text_is_escaped_on_every_page(route, hostile, clients):
    url = url_for(route, PATTERNS[route.name], hostile)
    response = clients["owner"].get(url, follow=True)
    assert response.status_code == 200, url
    if response.streaming:
        body = b"".join(response.streaming_content).decode()
        assert response["Content-Disposition"].startswith("attachment"), url
        assert "html" not in response["Content-Type"]
        assert response["X-Content-Type-Options"] == "nosniff"
        return
    body = response.content.decode()
    assert response["X-Content-Type-Options"] == "nosniff", url
    if response["Content-Type"].startswith("text/html"):
        assert_inert(body, url)
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    elif response.has_header("Content-Disposition"):  # the taxonomy export
        assert response["Content-Disposition"].startswith("attachment"), url
        assert "html" not in response["Content-Type"]
    else:  # the job status JSON: data for textContent, never rendered as a page
        assert response["Content-Type"] == "application/json", url


def test_static_scripts_never_turn_text_into_markup():
    """User text reaches the DOM only through textContent: no innerHTML, outerHTML, insertAdjacentHTML,
    document.write, eval or Function in any static script."""
    from pathlib import Path

    from django.conf import settings

    sinks = re.compile(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
    scripts = [p for p in Path(settings.BASE_DIR).glob("*/static/**/*.js") if ".venv" not in p.parts]
    assert scripts, "no static scripts found"
    offenders = [f"{p}: {m.group(0)}" for p in scripts for m in sinks.finditer(p.read_text())]
    assert offenders == []


def test_json_script_blocks_cannot_be_closed_by_label_names(hostile, clients):
    """The picker data embeds label names inside <script type=application/json>: '</script>' is escaped."""
    body = clients["owner"].get(reverse("taxonomies:editor", args=[hostile.project.pk])).content.decode()
    block = re.search(r'<script id="taxonomy-nodes" type="application/json">(.*?)</script>', body, re.S)
    assert block and "\\u003C/script\\u003E" in block.group(1)


def test_template_syntax_in_user_text_is_shown_not_evaluated(hostile, clients):
    body = clients["owner"].get(reverse("corpora:document", args=[hostile.project.pk, hostile.document.pk]))
    assert "{{ 7|add:7 }}{% debug %}" in body.content.decode()


def test_the_403_page_escapes_the_project_name(hostile, clients):
    response = clients["viewer"].get(reverse("endpoints:settings", args=[hostile.project.pk]))
    assert response.status_code == 403
    assert_inert(response.content.decode(), "403")


def test_upload_errors_echo_the_file_name_and_field_escaped(hostile, clients):
    name = PAYLOADS[0] + ".csv"
    bad = SimpleUploadedFile(name, f"id,text,path\n{PAYLOADS[1]},x,{PAYLOADS[2]}\n".encode())
    response = clients["owner"].post(reverse("corpora:upload", args=[hostile.project.pk]), {"file": bad})
    assert response.status_code == 400
    body = response.content.decode()
    assert_inert(body, "upload error")
    assert "&lt;img src=x onerror=alert(1)&gt;.csv" in body  # the name is shown, as text


def test_taxonomy_import_errors_echo_the_file_name_escaped(hostile, clients):
    bad = SimpleUploadedFile(PAYLOADS[2] + ".json", b'[{"name": "</script><b>x</b>", "children": 5}]')
    response = clients["owner"].post(reverse("taxonomies:import", args=[hostile.project.pk]), {"file": bad})
    assert response.status_code == 200
    body = response.content.decode()
    assert_inert(body, "taxonomy import error")
    assert "&quot;&gt;&lt;svg/onload=alert(3)&gt;" in body


def test_messages_after_actions_escape_names(hostile, clients):
    node = hostile.nodes["Sci > Bio"]
    response = clients["owner"].post(
        reverse("taxonomies:node_rename", args=[hostile.project.pk, node.pk]), {"name": PAYLOADS[0]}, follow=True
    )
    body = response.content.decode()
    assert "Renamed to &lt;img" in body
    assert_inert(body, "rename message")


def test_admin_pages_escape_hostile_text(hostile):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-only-123")
    client = Client()
    client.force_login(admin)
    for model in ("projects/project", "taxonomies/node", "corpora/document", "jobs/job", "auth/user"):
        for url in (f"/admin/{model}/", f"/admin/{model}/?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"):
            response = client.get(url)
            if response.status_code == 404:  # the model is not registered in the admin
                continue
            assert response.status_code == 200, url
            for payload in PAYLOADS[:4]:
                assert payload not in response.content.decode(), url


def test_exports_neutralise_formulas_and_keep_markup_as_data(hostile, clients):
    from corpora.models import Document

    Document.objects.filter(project=hostile.project).update(text='=HYPERLINK("http://evil")' + PAYLOADS[0])
    response = clients["owner"].get(reverse("corpora:export", args=[hostile.project.pk]) + "?format=csv")
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body
    assert response["Content-Type"].startswith("text/csv") and response["X-Content-Type-Options"] == "nosniff"


def test_cold_start_and_growth_pages_show_hostile_text_escaped(hostile, clients):
    """Mined and LLM terms (and their source, in an attribute), the LLM-written example and its author, the
    pseudo-label scorer, cascade stage names, the split's children and task, and the forgetting report whose
    plot names the parent run: each is on its page, as text."""
    from django.utils.html import escape

    from corpora.models import Document
    from taxonomies.models import Node

    w, p = hostile, hostile.project.pk
    team = Node.objects.get(pk=w.nodes["Sport > Team"].pk)
    example = Document.objects.get(project=w.project, generated=True)
    pages = {
        reverse("taxonomies:editor", args=[p]) + f"?node={team.pk}": [
            escape(PAYLOADS[0]),  # a term chip
            'data-source="&quot;&gt;&lt;svg onload=1"',
            escape(team.name),  # the split task link
        ],
        reverse("classifiers:run", args=[p, w.weak_run.pk]): [escape(PAYLOADS[0])],  # the pseudo-label scorer
        reverse("classifiers:pseudo_labels", args=[p, w.weak_run.pk]): [escape(PAYLOADS[1])],  # the base strategy
        reverse("classifiers:run", args=[p, w.cascade_run.pk]): [escape(f"{PAYLOADS[1]}1")],  # a stage name
        reverse("classifiers:run", args=[p, w.trained_run.pk]): ['id="update-form"'],
        reverse("classifiers:run", args=[p, w.updated_run.pk]): ['id="forgetting-plot"', escape(HOSTILE)],
        reverse("review:task", args=[p, w.task.pk]): [escape(team.name)],
        reverse("review:task_item", args=[p, w.task.pk, w.task_document.pk]): [escape(team.name)],
        reverse("corpora:document", args=[p, example.pk]): [f"Written by an LLM (<bdi>{escape(HOSTILE)}</bdi>)"],
    }
    for url, shown in pages.items():
        response = clients["owner"].get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert_inert(body, url)
        for text in shown:
            assert text in body, (url, text)


def test_split_messages_escape_the_child_names(hostile, clients):
    """The children of a split come from a textarea, one per line: the success message and the task link name
    them, and the task page lists them, all as text."""
    team = hostile.nodes["Sport > Team > Pro"]
    response = clients["owner"].post(
        reverse("taxonomies:node_split", args=[hostile.project.pk, team.pk]),
        {"children": f"{PAYLOADS[0]}\n{PAYLOADS[2]}"},
        follow=True,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "into &lt;img src=x onerror=alert(1)&gt;, &quot;&gt;&lt;svg/onload=alert(3)&gt;" in body
    assert_inert(body, "split message")
