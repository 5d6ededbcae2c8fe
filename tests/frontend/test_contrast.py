"""Colour contrast of text that axe cannot judge (the unread count is ``aria-hidden``: axe skips it, but sighted
users read it), computed from the stylesheet itself: WCAG 2 relative luminance, AA needs 4.5:1 for small text."""

import re
from pathlib import Path

import pytest
from django.conf import settings

CSS = Path(settings.BASE_DIR) / "frontend" / "static" / "frontend" / "app.css"


def _rule(css: str, selector: str) -> dict[str, str]:
    """The declarations of the first rule whose selector is exactly ``selector``."""
    match = re.search(r"(?:^|\})\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", css, flags=re.MULTILINE)
    assert match, f"no rule for {selector}"
    declarations = {}
    for part in match.group(1).split(";"):
        if ":" in part:
            name, value = part.split(":", 1)
            declarations[name.strip()] = value.strip()
    return declarations


def _colour(css: str, value: str) -> str:
    """A declared colour as #rrggbb, following ``var(--name)`` to ``:root``."""
    variable = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if variable:
        value = _rule(css, ":root")[variable.group(1)].split("/*")[0].strip()
    value = value.lower()
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        value = "#" + "".join(c * 2 for c in value[1:])
    assert re.fullmatch(r"#[0-9a-f]{6}", value), f"not an opaque colour: {value}"
    return value


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#e5484d", "#ffffff") == pytest.approx(3.91, abs=0.01)  # the badge as it was


def test_the_unread_count_is_readable():
    css = CSS.read_text(encoding="utf-8")
    badge = _rule(css, ".count")
    ratio = contrast(_colour(css, badge["color"]), _colour(css, badge["background"]))
    assert ratio >= 4.5, f"unread count contrast {ratio:.2f}:1"
