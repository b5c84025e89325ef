"""User text is bidi-isolated on every page (issue 21, item 9): each piece of it sits in its own <bdi>, in an
element with `dir` that holds only that text, or between the Unicode isolates FSI and PDI (a <title>, an
<option>, an attribute, SVG <text>), so an RTL override in one name cannot reorder the text around it.

The check is generic: every field people see is made hostile (an RLO override, zero-width characters and many
combining marks), every page is fetched, and every occurrence of the hostile text in the HTML, in text or in a
shown attribute, must be isolated by one of those means, tightly (no text of htc's inside the same isolate)."""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.security.routes import ROUTES
from tests.security.test_permission_matrix import PATTERNS, url_for

pytestmark = pytest.mark.django_db

RLO = "\u202e"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060"
OPENERS = "\u2066\u2067\u2068"  # LRI, RLI, FSI
PDI = "\u2069"


def hostile(tag: str, marks: int = 60) -> str:
    """An RLO override, a tag to tell fields apart, zero-width characters and `marks` combining marks."""
    return f"{RLO}{tag}{ZERO_WIDTH}" + "e\u0301" * (marks // 2)


RLO_TEXT = hostile("evil", 100)


def test_project_label_and_document_names_are_isolated(client_for, owner, make_project, build_tree):
    from corpora.models import Document
    from corpora.services import corpus_import

    project = make_project(f"P {RLO_TEXT}")
    nodes = build_tree(project, {f"L {RLO_TEXT}": {}})
    client = client_for(owner)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert f"<bdi>{html.escape(project.name)}</bdi>" in page
    label = nodes[f"L {RLO_TEXT}"]
    editor = client.get(f"/projects/{project.pk}/taxonomy/?node={label.pk}").content.decode()
    assert f"<bdi>{html.escape(label.name)}</bdi>" in editor
    data = f"id,text\nd1,{RLO_TEXT} text\n".encode()
    corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner)
    doc = Document.objects.get(project=project, external_id="d1")
    body = client.get(f"/projects/{project.pk}/documents/{doc.pk}/").content.decode()
    assert 'class="doc-text" dir="auto"' in body


# ----- the generic checker -----

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SHOWN_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "label", "value"}
RAW_TEXT = {"script", "style"}


def _inside_isolates(text: str, index: int) -> bool:
    """Whether position `index` of `text` lies between an isolate opener and its PDI."""
    depth = 0
    for ch in text[:index]:
        if ch in OPENERS:
            depth += 1
        elif ch == PDI and depth:
            depth -= 1
    if depth == 0:
        return False
    closing = 0
    for ch in text[index:]:  # ... and the isolate is closed after it
        if ch in OPENERS:
            closing -= 1
        elif ch == PDI:
            closing += 1
            if closing >= depth:
                return True
    return False


def _without_isolates(text: str) -> str:
    """`text` without its balanced isolate spans (opener ... PDI), which are isolated on their own."""
    out, depth = [], 0
    for ch in text:
        if ch in OPENERS:
            depth += 1
        elif ch == PDI and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class BidiAudit(HTMLParser):
    """Finds occurrences of the RLO override (the start of every hostile value) that are not isolated."""

    def __init__(self, values: list[str]):
        super().__init__(convert_charrefs=True)
        self.values = sorted(values, key=len, reverse=True)
        self.stack: list[dict] = []
        self.problems: list[str] = []
        self.found = 0

    # element tracking
    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        self._check_attributes(tag, names)
        if tag in VOID:
            return
        isolating = tag == "bdi" or ("dir" in names and tag not in ("html", "body")) or "unicode-bidi" in names
        self.stack.append({"tag": tag, "isolating": isolating, "text": [], "used": False, "attrs": names})

    def handle_startendtag(self, tag, attrs):
        self._check_attributes(tag, dict(attrs))

    def handle_endtag(self, tag):
        if tag in VOID or not any(e["tag"] == tag for e in self.stack):
            return
        while self.stack:
            element = self.stack.pop()
            text = "".join(element["text"])
            if self.stack:
                self.stack[-1]["text"].append(text)
            if element["used"]:
                self._check_tight(element, text)
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["text"].append(data)
        if any(e["tag"] in RAW_TEXT for e in self.stack):
            return  # json_script data blocks: data for textContent, never shown as they are
        for match in re.finditer(RLO, data):
            self.found += 1
            if _inside_isolates(data, match.start()):
                continue
            holder = next((e for e in reversed(self.stack) if e["isolating"]), None)
            if holder is None:
                self.problems.append(f"text not isolated in <{self._where()}>: {self._snippet(data, match.start())}")
            else:
                holder["used"] = True

    # checks
    def _check_attributes(self, tag: str, names: dict) -> None:
        for name, value in names.items():
            if not value or RLO not in value or name not in SHOWN_ATTRIBUTES:
                continue
            if name == "value" and (tag not in ("input", "button") or names.get("type") == "hidden"):
                continue  # an option's or a hidden field's value is never shown
            if name == "value" and "dir" in names:
                continue  # a text field with dir="auto" isolates its own content
            for match in re.finditer(RLO, value):
                self.found += 1
                if not _inside_isolates(value, match.start()):
                    self.problems.append(f"attribute {name}= of <{tag}> not isolated: {self._snippet(value, 0)}")

    def _check_tight(self, element: dict, text: str) -> None:
        """An isolating element that holds user text holds nothing of htc's besides it (an override inside it
        would reorder that too): what is left once the hostile values are removed is space or an ellipsis."""
        rest = _without_isolates(text)  # pieces between FSI and PDI are isolated on their own
        for value in self.values:
            rest = rest.replace(value, "")
        while (start := rest.find(RLO)) >= 0:  # a value cut short (a preview, truncatechars)
            cut = max(_common_prefix(rest[start:], value) for value in self.values)
            if cut < 4:
                break
            rest = rest[:start] + rest[start + cut :]
        if rest.strip(" \n\t…"):
            self.problems.append(f"<{element['tag']}> isolates user text with other text: {rest.strip()[:80]!r}")

    def _where(self) -> str:
        return " > ".join(e["tag"] for e in self.stack[-4:])

    @staticmethod
    def _snippet(text: str, index: int) -> str:
        start = max(0, index - 40)
        return repr(text[start : index + 12].replace("\u0301", ""))


def audit(body: str, values: list[str]) -> BidiAudit:
    checker = BidiAudit(values)
    checker.feed(body)
    checker.close()
    return checker


def test_isolate_wraps_text_that_can_reorder_its_neighbours_and_leaves_the_rest_as_typed():
    from htc_app.bidi import isolate, isolate_path

    assert isolate("Sci > Bio") == "Sci > Bio" and isolate("") == "" and isolate(None) == ""
    assert isolate("e\u0301\u200b 42") == "e\u0301\u200b 42"  # combining and zero-width marks reorder nothing
    for text in ("שלום", "عربى", f"evil{RLO}redro", "a\u2067b", "\u0661\u0662"):
        assert isolate(text) == f"\u2068{text}{PDI}", text
    assert isolate_path(["Sci", f"{RLO}x"], " > ") == f"Sci > \u2068{RLO}x{PDI}"


def test_the_checker_flags_unisolated_text_and_accepts_each_mechanism():
    value = hostile("x")
    assert audit(f"<p>Hello {value}</p>", [value]).problems
    assert audit(f"<p>Hello <bdi>{value}</bdi></p>", [value]).problems == []
    assert audit(f"<p>Hello <span dir='auto'>{value}</span></p>", [value]).problems == []
    assert audit(f"<title>\u2068{value}\u2069 · htc</title>", [value]).problems == []
    assert audit(f"<title>{value} · htc</title>", [value]).problems
    assert audit(f"<p><bdi>{value} (3 documents)</bdi></p>", [value]).problems  # not tight
    assert audit(f"<td dir=auto>{value[:20]}…</td>", [value]).problems == []  # a preview
    assert audit(f"<p><bdi>\u2068{value}\u2069 &gt; \u2068{value}\u2069</bdi></p>", [value]).problems == []
    assert audit(f"<a title='{value}'>x</a>", [value]).problems
    assert audit(f"<a title='\u2068{value}\u2069'>x</a>", [value]).problems == []
    assert audit(f"<svg><text>{value}</text></svg>", [value]).problems
    assert audit(f"<input type=hidden value='{value}'>", [value]).problems == []


# ----- every page with hostile text in every field -----


def make_bidi_hostile(world) -> list[str]:
    """Hostile text in every field of `world` people see; returns the values used."""
    from django.contrib.auth import get_user_model

    from classifiers.models import Evaluation, Prediction, Run
    from corpora.models import Corpus, Document
    from endpoints.models import LLMEndpoint
    from jobs.models import Job
    from projects.models import Project
    from review.models import Correction
    from taxonomies.models import Node

    values: list[str] = []

    def v(tag: str, marks: int = 60) -> str:
        values.append(hostile(tag, marks))
        return values[-1]

    project = world.project
    Project.objects.filter(pk=project.pk).update(name=v("project"), description=v("description", 2000))
    for i, node in enumerate(Node.objects.filter(taxonomy__project=project).order_by("pk")):
        Node.objects.filter(pk=node.pk).update(name=v(f"label{i}"), description=v(f"about{i}", 400))
    Node.objects.filter(taxonomy__project=project).update(terms=[v("term")], terms_source="corpus")
    for i, doc in enumerate(Document.objects.filter(project=project).order_by("pk")):
        Document.objects.filter(pk=doc.pk).update(text=v(f"text{i}", 10_000), external_id=v(f"doc{i}"))
    Corpus.objects.filter(project=project).update(name=v("corpus"), source_filename=v("file") + ".csv")
    Document.objects.filter(project=project, generated=True).update(meta={"generated_by": v("model"), "path": "x"})
    for i, run in enumerate(Run.objects.filter(project=project).order_by("pk")):
        stats = dict(run.stats)
        if "cascade" in stats:
            stages = [{**stage, "name": v(f"stage{k}")} for k, stage in enumerate(stats["cascade"]["stages"])]
            stats["cascade"] = {**stats["cascade"], "stages": stages}
        params = {**run.params, v(f"key{i}"): v(f"param{i}")}
        Run.objects.filter(pk=run.pk).update(name=v(f"run{i}"), stats=stats, params=params)
    # Evaluations so the metrics page draws its plots (bars, lines) with run and label names in them.
    per_level = [{"micro_f1": 0.5, "macro_f1": 0.4}, {"micro_f1": 0.25, "macro_f1": 0.2}]
    for run in Run.objects.filter(pk__in=[world.run.pk, world.trained_run.pk]):
        metrics = {"exact_path_accuracy": 0.5, "micro_f1": 0.5, "macro_f1": 0.4, "per_level": per_level}
        Evaluation.objects.update_or_create(run=run, split="train", defaults={"metrics": metrics, "document_count": 2})
    Run.objects.filter(pk=world.run.pk).update(model_dir=world.trained_run.model_dir, state=Run.State.TRAINED)
    Prediction.objects.filter(run__project=project).update(raw_output=v("raw"), valid=False)
    Job.objects.filter(project=project).update(
        state=Job.State.FAILED,
        error=v("error"),
        message=v("message"),
        params={v("jobkey"): v("jobparam")},
        result={"corpus_name": v("jobresult")},
    )
    Correction.objects.filter(project=project).update(after_names=[[v("after")]], before_names=[[v("before")]])
    get_user_model().objects.filter(pk=world.membership.user_id).update(username=v("user")[:150])
    LLMEndpoint.objects.filter(project=project).update(model=v("llm")[:200], templates={"dl": v("template")})
    project.refresh_from_db()
    return values


# The pages the issue names; each must show hostile text (so the check cannot pass by showing nothing).
MAIN_PAGES = {
    "projects:detail",
    "projects:list",
    "corpora:documents",
    "corpora:document",
    "taxonomies:editor",
    "taxonomies:history",
    "classifiers:run",
    "classifiers:runs",
    "classifiers:metrics",
    "classifiers:predictions",
    "review:queue",
    "review:item",
    "review:task",
    "review:task_item",
    "jobs:list",
    "jobs:detail",
    "endpoints:settings",
}


@pytest.fixture
def bidi_world(worlds):
    alpha = worlds[0]
    return alpha, make_bidi_hostile(alpha)


def _pages(world) -> list[tuple[str, str]]:
    pages = []
    for route in ROUTES:
        if route.get is None or route.get_status != 200:
            continue
        pages.append((route.name, url_for(route, PATTERNS[route.name], world)))
    p = world.project.pk
    pages += [
        ("classifiers:run", reverse("classifiers:run", args=[p, r.pk]))
        for r in (world.trained_run, world.weak_run, world.cascade_run, world.updated_run)
    ]
    metrics = reverse("classifiers:metrics", args=[p]) + f"?split=train&confusion_run={world.run.pk}"
    pages.append(("classifiers:metrics", metrics))
    pages.append(("taxonomies:editor", reverse("taxonomies:editor", args=[p]) + f"?node={world.nodes['Sci'].pk}"))
    return pages


def test_every_occurrence_of_user_text_on_every_page_is_isolated(bidi_world, clients):
    world, values = bidi_world
    problems, seen = [], {}
    for name, url in _pages(world):
        response = clients["owner"].get(url)
        assert response.status_code == 200, url
        if response.streaming or not response["Content-Type"].startswith("text/html"):
            continue
        body = response.content.decode()
        if name == "classifiers:metrics" and "split=train" in url:  # the plots are drawn, label names in SVG
            assert 'id="confusion-plot"' in body and 'id="shots-plot"' in body, url
        result = audit(body, values)
        seen[name] = seen.get(name, 0) + result.found
        problems += [f"{url}: {p}" for p in dict.fromkeys(result.problems)]
    missing = sorted(name for name in MAIN_PAGES if not seen.get(name))
    assert missing == [], f"pages that showed no hostile text: {missing}"
    assert problems == [], "\n".join(problems[:600]) + f"\n({len(problems)} problems)"


def test_the_admin_lists_of_ours_isolate_user_text(bidi_world):
    """The admin changelists htc defines (jobs, sign-in failures) show project names and usernames isolated."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from htc_app.models import SignInFailure

    world, values = bidi_world
    SignInFailure.objects.create(scope="account", key=values[0])
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-only-123")
    client = Client()
    client.force_login(admin)
    for url in ("/admin/jobs/job/", "/admin/htc_app/signinfailure/"):
        response = client.get(url)
        assert response.status_code == 200, url
        result = audit(response.content.decode(), values)
        assert result.found and result.problems == [], (url, result.problems)
