"""Strict CSP: every response carries the header, and no template or rendered page holds inline script or style."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(p for p in REPO.glob("*/templates/**/*.html") if ".venv" not in p.parts)
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class InlineFinder(HTMLParser):
    """Collects inline scripts, <style> elements, style="" attributes and on*="" handlers."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src") and (names.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
            self.problems.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style":
            self.problems.append(f"<style> at line {self.getpos()[0]}")
        for name, _value in attrs:
            if name == "style":
                self.problems.append(f"style= on <{tag}> at line {self.getpos()[0]}")
            if name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}> at line {self.getpos()[0]}")


def inline_problems(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.problems


def test_the_policy_is_strict():
    policy = settings.HTC_CSP
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ):
        assert directive in policy


def test_the_finder_catches_every_kind_of_inline_code():
    html = '<script>alert(1)</script><style>p{}</style><p style="color:red" onclick="x()"></p><script src="/a.js"></script>'
    assert len(inline_problems(html)) == 4
    assert inline_problems('<script id="d" type="application/json">{"a": 1}</script>') == []


def test_templates_were_found():
    assert any(p.name == "base.html" for p in TEMPLATES) and len(TEMPLATES) > 20


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_template_holds_inline_script_or_style(template):
    text = template.read_text()
    # Template tags inside tags ({% if %} in an attribute list) would confuse the parser: drop them first.
    text = re.sub(r"{%.*?%}|{{.*?}}", " T ", text, flags=re.S)
    assert inline_problems(text) == []


def _routes(resolver=None, prefix=""):
    """(route, converter names) for every URL pattern, nested includes flattened."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if "admin" in route:
                continue  # Django's own admin pages are checked below through their index only
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, list(pattern.pattern.converters)


def _fill(route: str, values: dict[str, int]) -> str | None:
    """The route with its <int:name> parameters filled in, or None when a parameter is unknown."""
    out = route
    for match in re.finditer(r"<(?:(\w+):)?(\w+)>", route):
        if match.group(2) not in values:
            return None
        out = out.replace(match.group(0), str(values[match.group(2)]))
    return "/" + out.lstrip("^").rstrip("$")


def test_every_rendered_page_has_the_csp_header_and_no_inline_code(trained_run, client_for, owner):
    from corpora.models import Document

    project = trained_run.project
    prediction = trained_run.predictions.first()
    values = {
        "project_id": project.pk,
        "run_id": trained_run.pk,
        "doc_id": Document.objects.filter(project=project).first().pk,
        "prediction_id": prediction.pk,
        "node_id": project.taxonomy.nodes.first().pk,
    }
    client = client_for(owner)
    pages = 0
    checked = []
    for route, _converters in _routes():
        url = _fill(route, values)
        if url is None:
            continue
        response = client.get(url)
        checked.append(url)
        assert response.headers.get("Content-Security-Policy") == settings.HTC_CSP, url
        if response.status_code == 200 and response.headers.get("Content-Type", "").startswith("text/html"):
            assert inline_problems(response.content.decode()) == [], url
            pages += 1
    assert pages >= 15, checked  # the project's pages: editor, upload, documents, runs, review, ...


def test_error_login_and_admin_pages_have_the_csp_header(client, admin_client):
    for response in (client.get("/accounts/login/"), client.get("/no/such/page/"), admin_client.get("/admin/")):
        assert response.headers.get("Content-Security-Policy") == settings.HTC_CSP
    login = client.get("/accounts/login/")
    assert login.status_code == 200 and inline_problems(login.content.decode()) == []
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404 and inline_problems(missing.content.decode()) == []
