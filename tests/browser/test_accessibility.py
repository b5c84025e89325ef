"""Accessibility and robustness of every main page, in the real browser (reliability.md #18's "no CSP
violation" included: the `page` fixture fails the test on any console error).

On each page: every form control has an accessible name; every button and link has text or a label; images
and plots have a text alternative; one h1; `lang` on <html>; a skip link to the main landmark; no positive
tabindex and no duplicate ids; Tab reaches every control of the page in document order, each with a visible
focus indicator; and the stylesheet has :focus-visible rules for every kind of control.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AUDIT = """
() => {
  const problems = [];
  const text = (el) => (el ? (el.textContent || "").replace(/\\s+/g, " ").trim() : "");
  const accessibleName = (el) => {
    const aria = (el.getAttribute("aria-label") || "").trim();
    if (aria) return aria;
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const joined = by.split(/\\s+/).map((id) => text(document.getElementById(id))).join(" ").trim();
      if (joined) return joined;
    }
    if (el.id) {
      const label = document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
      if (text(label)) return text(label);
    }
    if (text(el.closest("label"))) return text(el.closest("label"));
    return (el.getAttribute("title") || "").trim();
  };
  const describe = (el) => el.outerHTML.slice(0, 120);
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, progress, meter")) {
    if (!accessibleName(el)) problems.push(`form control without a name: ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("button, a[href], [role=button], summary")) {
    const name = text(el) || (el.getAttribute("aria-label") || "").trim() || (el.getAttribute("title") || "").trim()
      || [...el.querySelectorAll("img[alt]")].map((i) => i.alt).join("").trim();
    if (!name) problems.push(`button or link without text: ${describe(el)}`);
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`image without alt: ${describe(img)}`);
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.closest("[aria-hidden=true]")) continue;
    const named = svg.getAttribute("aria-label") || svg.getAttribute("aria-labelledby") || svg.querySelector("title");
    if (!named) problems.push(`svg without a text alternative: ${describe(svg)}`);
  }
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} h1 elements`);
  if (!document.documentElement.getAttribute("lang")) problems.push("no lang on <html>");
  if (!document.querySelector("main#main")) problems.push("no <main id=main> landmark");
  const skip = document.querySelector("body > a.skip-link");
  if (!skip || skip.getAttribute("href") !== "#main") problems.push("no skip link to #main as the first link");
  for (const el of document.querySelectorAll("[tabindex]")) {
    if (el.tabIndex > 0) problems.push(`positive tabindex: ${describe(el)}`);
  }
  const ids = {};
  for (const el of document.querySelectorAll("[id]")) ids[el.id] = (ids[el.id] || 0) + 1;
  for (const [id, n] of Object.entries(ids)) if (n > 1) problems.push(`id ${id} used ${n} times`);
  for (const el of document.querySelectorAll("[aria-labelledby], [aria-describedby], [aria-controls], label[for]")) {
    for (const attr of ["aria-labelledby", "aria-describedby", "aria-controls", "for"]) {
      for (const id of (el.getAttribute(attr) || "").split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) problems.push(`${attr} points at a missing id ${id}`);
      }
    }
  }
  return problems;
}
"""

# The controls Tab should reach: visible, enabled, in the tab order, in document order.
TABBABLE = """
() => {
  const all = [...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]")];
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  // Chromium gives the content of a closed <details> client rects, but Tab rightly skips it (not its summary).
  const collapsed = (el) => {
    for (let d = el.closest("details:not([open])"); d; d = d.parentElement && d.parentElement.closest("details:not([open])")) {
      const summary = d.querySelector(":scope > summary");
      if (!summary || !summary.contains(el)) return true;
    }
    return false;
  };
  const list = all.filter((el) => el.tabIndex >= 0 && !el.disabled && shown(el) && !collapsed(el) && !el.closest("[inert]"));
  list.forEach((el, i) => el.setAttribute("data-a11y-order", String(i)));
  return list.length;
}
"""

FOCUSED = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow && style.boxShadow !== "none";
  return {order: el.getAttribute("data-a11y-order"), visible: outline || ring, html: el.outerHTML.slice(0, 100)};
}
"""

FOCUS_RULES = """
() => {
  const selectors = [];
  for (const sheet of document.styleSheets) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { continue; }
    for (const rule of rules) if (rule.selectorText && rule.selectorText.includes(":focus-visible")) selectors.push(rule.selectorText);
  }
  return selectors.join(", ");
}
"""


def _audit_page(page, url: str, max_tabs: int = 160) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("load")
    problems = [f"{url}: {p}" for p in page.evaluate(AUDIT)]
    count = page.evaluate(TABBABLE)
    if (
        page.evaluate("() => document.querySelector('[data-a11y-order=\"0\"]')?.classList.contains('skip-link')")
        is not True
    ):
        problems.append(f"{url}: the skip link is not the first control in the tab order")
    seen: list[int] = []
    if page.evaluate("() => document.activeElement !== document.body"):
        # A page that autofocuses a field (the login form) starts there; walk the order from the skip link.
        page.evaluate("() => document.querySelector('.skip-link').focus()")
        seen.append(0)
    for press in range(min(max_tabs, count + 2)):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break
        if press == 0 and not seen and "skip-link" not in focused["html"]:
            problems.append(f"{url}: the first Tab lands on {focused['html']}, not the skip link")
        if not focused["visible"]:
            problems.append(f"{url}: no visible focus on {focused['html']}")
        if focused["order"] is None:
            continue
        order = int(focused["order"])
        if seen and order <= seen[-1]:
            break  # wrapped around (or left the page's controls)
        seen.append(order)
    if count <= max_tabs and seen != list(range(count)):
        missing = sorted(set(range(count)) - set(seen))[:5]
        problems.append(f"{url}: Tab order {seen[:12]}... skips controls {missing} of {count}")
    return problems


@pytest.fixture
def a11y_world(db):
    """The security tests' complete project (every kind of object a page shows), with an evaluation."""
    from classifiers.models import Evaluation
    from tests.security.world import build_world, make_user

    alpha = build_world(name="Alpha", owner=make_user("alice"))
    Evaluation.objects.create(
        run=alpha.run,
        split="test",
        document_count=3,
        metrics={
            "micro_f1": 0.5,
            "macro_f1": 0.4,
            "accuracy": 0.5,
            "per_level": [{"micro_f1": 0.6, "macro_f1": 0.5, "accuracy": 0.6}, {"micro_f1": 0.4, "macro_f1": 0.3}],
        },
    )
    return alpha


def test_every_main_page_is_labelled_and_usable_by_keyboard(page, live_server, login, a11y_world):
    w = a11y_world
    base = f"{live_server.url}/projects/{w.project.pk}"
    # The login page first, logged out.
    problems = _audit_page(page, f"{live_server.url}/accounts/login/")
    login(page, w.owner)
    pages = [
        f"{live_server.url}/projects/",
        f"{live_server.url}/projects/new/",
        f"{base}/",
        f"{base}/members/",
        f"{base}/taxonomy/",
        f"{base}/taxonomy/?node={w.nodes['Sci > Bio'].pk}",
        f"{base}/taxonomy/import/",
        f"{base}/taxonomy/history/",
        f"{base}/upload/",
        f"{base}/documents/",
        f"{base}/documents/{w.document.pk}/",
        f"{base}/jobs/",
        f"{base}/jobs/{w.job.pk}/",
        f"{base}/classifiers/",
        f"{base}/classifiers/runs/{w.run.pk}/",
        f"{base}/classifiers/runs/{w.run.pk}/predictions/",
        f"{base}/classifiers/metrics/",
        f"{base}/review/",
        f"{base}/review/runs/{w.run.pk}/",
        f"{base}/review/runs/{w.run.pk}/items/{w.prediction.pk}/",
        f"{base}/review/agreement/",
        f"{base}/llm/",
        # Cold start and growth: the editor on the split label (split form, task link, terms, cold-start panel),
        # the LLM-written example, the weak, cascade, outdated (update form) and updated runs, the pseudo-labels
        # and the "which child?" task with its decision page.
        f"{base}/taxonomy/?node={w.nodes['Sport > Team'].pk}",
        f"{base}/documents/{w.project.documents.get(generated=True).pk}/",
        f"{base}/classifiers/runs/{w.weak_run.pk}/",
        f"{base}/classifiers/runs/{w.weak_run.pk}/pseudo-labels/",
        f"{base}/classifiers/runs/{w.cascade_run.pk}/",
        f"{base}/classifiers/runs/{w.trained_run.pk}/",
        f"{base}/classifiers/runs/{w.updated_run.pk}/",
        f"{base}/review/tasks/{w.task.pk}/",
        f"{base}/review/tasks/{w.task.pk}/documents/{w.task_document.pk}/",
    ]
    for url in pages:
        problems += _audit_page(page, url)
    # The skip link really skips: Enter on it, then Tab, lands inside <main>, past the navigation.
    page.goto(f"{base}/documents/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    if not page.evaluate("() => !!document.activeElement.closest('main')"):
        problems.append("after the skip link, Tab does not land inside <main>")
    focus_rules = page.evaluate(FOCUS_RULES)
    for control in ("a", "button", "input", "select", "textarea", "summary"):
        if f"{control}:focus-visible" not in focus_rules:
            problems.append(f"no :focus-visible rule for {control} (found: {focus_rules})")
    assert problems == [], "\n".join(problems)
