"""axe-core on every page state the browser suite sees, without a test having to ask for it.

Every page opened through the ``browser`` fixture (``open_as``, pytest-playwright's ``context``/``page``, or a
test's own ``browser.new_context()``) is watched: a script added to each document marks it *unchecked* when it is
created, when htmx swaps content in, and when a script adds, removes, shows or hides part of it (a dialog, a
warning, a restored draft). Before the test's next action or auto-waiting assertion (a Playwright locator handler),
and before ``goto``, ``reload``, a screenshot, a viewport or media change and closing, the unchecked page is
checked with axe-core — after its ``load`` event, so the stylesheets and fonts are in. A viewport or media change
marks the page unchecked again, so the same page is checked in each layout a test shows it in. At the end of the
test every page still open is checked, and the test fails with the list of serious and critical violations (rule,
impact, element, what to fix). axe-core runs through the DevTools protocol, outside the page's Content Security
Policy, which therefore stays strict during the run.

axe-core itself is the copy bundled by axe-playwright-python (locked in requirements-dev.lock): a pinned
Python package carries a pinned axe-core version (4.12.1 for 0.1.8) into the virtual environment, with no
JavaScript file to vendor and no second package manager.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from axe_playwright_python.base import AXE_SCRIPT

PENDING = "data-axe-pending"
FAILING_IMPACTS = ("serious", "critical")

# Added to every document of a watched context, before the page's own scripts. It keeps what changed since the
# last check: the whole document (new, resized, other media) or the elements htmx or a script changed.
WATCH = """
(() => {
  if (window !== window.top) return;
  const state = window.__axeWatch = {whole: true, parts: new Set()};
  const flag = () => document.documentElement && document.documentElement.setAttribute("__PENDING__", "");
  const whole = () => { state.whole = true; flag(); };
  const part = (node) => {
    const element = node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
    if (element) { state.parts.add(element); flag(); }
  };
  state.markWhole = whole;
  if (document.documentElement) whole();
  else new MutationObserver((records, observer) => {
    if (document.documentElement) { whole(); observer.disconnect(); }
  }).observe(document, {childList: true});
  document.addEventListener("DOMContentLoaded", () => {
    whole();
    new MutationObserver((records) => records.forEach((record) => part(record.target))).observe(
      document.documentElement,
      {childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["hidden", "open"]},
    );
  });
  document.addEventListener("htmx:afterSettle", (event) => part(event.target));
})();
""".replace("__PENDING__", PENDING)

# Checks what changed since the last check (null if nothing did): the whole document, or only the changed parts.
RUN = """
async ([impacts, pending]) => {
  const root = document.documentElement;
  const state = window.__axeWatch;
  if (!root || !state || !root.hasAttribute(pending)) return null;
  if (document.readyState !== "complete") await new Promise((done) => addEventListener("load", done, {once: true}));
  await document.fonts.ready;
  root.removeAttribute(pending);
  let context = document;
  if (!state.whole) {
    const parts = [...state.parts].filter((element) => element.isConnected && element !== document.head
      && !document.head.contains(element));
    const outermost = (element) => !parts.some((other) => other !== element && other.contains(element));
    context = {include: parts.filter(outermost)};
  }
  const scope = state.whole ? "document" : context.include.length + " changed part(s)";
  state.whole = false;
  state.parts.clear();
  if (context !== document && context.include.length === 0) return null;
  const result = await axe.run(context, {resultTypes: ["violations"]});
  return {
    url: location.href,
    title: document.title,
    scope: scope,
    violations: result.violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary || ""})),
    })),
  };
}
"""


@dataclass(frozen=True)
class Finding:
    path: str
    viewport: str
    rule: str
    impact: str
    help: str
    target: str
    html: str
    summary: str


@dataclass
class AxeWatch:
    """The axe checks of one test: which page states were checked and what they found."""

    findings: dict[Finding, None] = field(default_factory=dict)  # ordered, without duplicates
    checks: int = 0
    pages: list = field(default_factory=list)

    # -- wiring ------------------------------------------------------------------------------------------------
    def watch_context(self, context) -> None:
        context.add_init_script(script=WATCH)
        new_page = context.new_page

        @functools.wraps(new_page)
        def watched_new_page(*args, **kwargs):
            page = new_page(*args, **kwargs)
            self.watch_page(page)
            return page

        context.new_page = watched_new_page
        context.on("page", self.watch_page)  # pages the site opens itself (a link with target=_blank)
        close = context.close

        @functools.wraps(close)
        def checked_close(*args, **kwargs):
            for page in list(context.pages):
                self.check(page)
            return close(*args, **kwargs)

        context.close = checked_close

    def watch_page(self, page) -> None:
        if getattr(page, "_axe_watched", False):
            return
        page._axe_watched = True
        self.pages.append(page)
        page.add_locator_handler(page.locator(f"html[{PENDING}]"), lambda: self.check(page), no_wait_after=True)
        for name in ("goto", "reload", "go_back", "go_forward", "screenshot", "close"):
            setattr(page, name, self._checked_first(page, getattr(page, name)))
        for name in ("set_viewport_size", "emulate_media"):
            setattr(page, name, self._checked_then_marked(page, getattr(page, name)))

    def _checked_first(self, page, method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            self.check(page)
            return method(*args, **kwargs)

        return wrapper

    def _checked_then_marked(self, page, method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            self.check(page)
            result = method(*args, **kwargs)
            page.evaluate("() => window.__axeWatch && window.__axeWatch.markWhole()")
            return result

        return wrapper

    # -- checking ----------------------------------------------------------------------------------------------
    def check(self, page) -> None:
        """Check the page with axe-core if it changed since its last check."""
        if page.is_closed():
            return
        for attempt in range(3):
            try:
                if not page.evaluate("() => typeof axe !== 'undefined'"):
                    page.evaluate(AXE_SCRIPT)
                result = page.evaluate(RUN, [list(FAILING_IMPACTS), PENDING])
            except Exception as error:  # the page navigated or swapped content during the check: check again
                if attempt == 2 or page.is_closed():
                    raise AssertionError(f"axe could not check {page.url}: {error}") from error
                page.wait_for_load_state("load")
                continue
            break
        if result is None:
            return
        self.checks += 1
        size = page.viewport_size or {}
        viewport = f"{size.get('width')}×{size.get('height')}"
        url = urlsplit(result["url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        for violation in result["violations"]:
            for node in violation["nodes"]:
                finding = Finding(
                    path=f"{path}  「{result['title']}」",
                    viewport=viewport,
                    rule=violation["id"],
                    impact=violation["impact"],
                    help=violation["help"],
                    target=node["target"],
                    html=node["html"],
                    summary=node["summary"],
                )
                self.findings[finding] = None

    def check_open_pages(self) -> None:
        for page in self.pages:
            self.check(page)

    def report(self) -> str:
        """The findings, grouped by page and viewport; empty if there are none."""
        if not self.findings:
            return ""
        lines = [f"axe: {len(self.findings)} serious or critical accessibility violation(s)"]
        where = None
        for finding in self.findings:
            if (finding.path, finding.viewport) != where:
                where = (finding.path, finding.viewport)
                lines.append(f"  {finding.path} at {finding.viewport}:")
            lines.append(f"    [{finding.impact}] {finding.rule}: {finding.help}")
            lines.append(f"      target: {finding.target}   {finding.html[:160]}")
            for detail in finding.summary.splitlines():
                lines.append(f"        {detail.strip()}")
        return "\n".join(lines)
