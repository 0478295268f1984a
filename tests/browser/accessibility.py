"""An automated accessibility check for console pages in the browser tests: axe-core (the
vendored copy in ``vendor/axe-core``) run against the page as it is shown, with the WCAG 2
level A and AA rules.

Use it on any page a browser test has open::

    assert serious_violations(page) == []

Only the violations of impact ``serious`` or ``critical`` are returned: those keep people from
using the page (text below the contrast ratio, a field without a label, a missing language).
axe cannot judge everything (reading order, whether a label makes sense): it is a floor, not a
certificate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: The rule sets run: WCAG 2.0 and 2.1 (axe tags 2.1 rules with these too) at levels A, AA.
RULE_TAGS = ("wcag2a", "wcag2aa")
SERIOUS = ("serious", "critical")

_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    targets: v.nodes.map(n => n.target.join(' ')),
  }));
}"""


def violations(page: Any) -> list[dict[str, Any]]:
    """Every WCAG 2 A/AA violation axe finds on the page now: id, impact, help, the CSS
    selectors of the offending elements (``targets``). Injects axe when the page lacks it."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        _inject(page)
    found: list[dict[str, Any]] = page.evaluate(_RUN, list(RULE_TAGS))
    return found


def _inject(page: Any) -> None:
    """Load axe into the page. The console's Content-Security-Policy (``script-src 'self'``)
    refuses the inline script tag that ``page.add_script_tag`` writes, and the file is not
    served; evaluating its text through the DevTools protocol is outside the page's policy."""
    try:
        page.add_script_tag(path=str(AXE))
    except Exception as refused:  # Playwright's Error, raised when the CSP blocks it
        if "Content Security Policy" not in str(refused):
            raise
        page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate("() => typeof window.axe.run === 'function'"), "axe did not load"


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """The violations of impact serious or critical: ``[{id, impact, help, helpUrl,
    targets}]``, empty when the page passes."""
    return [v for v in violations(page) if v["impact"] in SERIOUS]
