"""Escaping and tiny HTML builders: user strings go through `text`, trusted fragments are `Html`.

Plotly renders its own subset of HTML in labels and hovers (`<b>`, `<br>`, entities), so strings
that go into a figure pass through `plot_text` instead: a model named `<b>x</b>` then reads as
typed, not in bold.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import NewType

from farm.dashboard.units import is_missing

Html = NewType("Html", str)
"""A fragment that is already safe HTML (built here, or escaped)."""

MISSING = "—"


def text(value: object) -> Html:
    """Escape any value as HTML text or attribute value; missing (None/NaN) reads as a dash."""
    if is_missing(value):
        return Html(MISSING)
    return Html(html.escape(str(value), quote=True))


def plot_text(value: object) -> str:
    """Escape a value for a Plotly label or hover; Plotly turns the entities back into text."""
    if is_missing(value):
        return MISSING
    return html.escape(str(value), quote=False)


def plot_reason(value: object, limit: int = 160) -> str:
    """A recorded reason for a Plotly hover: escaped, cut to `limit` characters, lines kept."""
    reason = "" if is_missing(value) else str(value)
    short = reason if len(reason) <= limit else reason[: limit - 1] + "…"
    return plot_text(short).replace("\n", "<br>")


def element(tag: str, *children: Html, cls: str | None = None) -> Html:
    """`<tag class="cls">children</tag>`; `tag` and `cls` are ours, never user strings."""
    attributes = f' class="{html.escape(cls)}"' if cls else ""
    return Html(f"<{tag}{attributes}>{''.join(children)}</{tag}>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Html]], cls: str) -> Html:
    """A plain table: escaped header texts, cells already built by the caller."""
    head = element("thead", element("tr", *(element("th", text(h)) for h in headers)))
    body = element("tbody", *(element("tr", *(element("td", c) for c in row)) for row in rows))
    return element("table", head, body, cls=cls)


def hint(message: str) -> Html:
    """A muted line under a section title: how to read what follows."""
    return element("p", text(message), cls="hint")


def notice(message: str) -> Html:
    """A highlighted sentence that explains why a section has nothing to show."""
    return element("p", text(message), cls="notice")
