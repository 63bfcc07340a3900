"""The page header: which run this is (id, host, versions, dates), how its cells ended, which
devices took part, and links to the sections below."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from farm.dashboard.markup import Html, element, text
from farm.dashboard.units import is_missing
from farm.dashboard.view import RunData, Section

STATUSES = ("ok", "failed", "skipped")


def header(data: RunData, sections: Sequence[Section]) -> Html:
    """The `<header>`: title, run facts, status counts, devices and the sections' links."""
    title = element("h1", text(f"tflite-farm run {run_id(data)}"))
    devices = devices_line(data.run.get("devices"))
    return element("header", title, facts(data.run), counts(data), devices, contents(sections))


def run_id(data: RunData) -> str:
    """The run id from run.json, else from the cells, else a dash."""
    ids = data.cells["run_id"].dropna().astype(str).unique()
    return str(data.run.get("run_id") or (ids[0] if len(ids) else "—"))


def facts(run: Mapping[str, Any]) -> Html:
    pairs = {
        "host": run.get("host"),
        "farm version": run.get("farm_version"),
        "git commit": run.get("git_commit"),
        "started": readable_time(run.get("started_at")),
        "finished": readable_time(run.get("finished_at")),
        "duration": duration(run.get("started_at"), run.get("finished_at")),
        "seed": run.get("seed"),
        "runtimes": describe(run.get("runtimes")),
    }
    items = (
        element("div", element("dt", text(k)), element("dd", text(v))) for k, v in pairs.items()
    )
    return element("dl", *items)


def counts(data: RunData) -> Html:
    """One badge per status with its number of cells, e.g. `12 ok`, `1 failed`."""
    status = data.cells["status"]
    badges = [
        element("span", text(f"{int(status.eq(s).sum())} {s}"), cls=f"badge {s}") for s in STATUSES
    ]
    total = element("span", text(f"{len(status)} cells"), cls="badge total")
    return element("div", total, *badges, cls="counts")


def devices_line(devices: object) -> Html:
    """`devices: host (os=Linux, cpu=…) · pixel8 (…)` from run.json's fingerprints."""
    if not isinstance(devices, Mapping) or not devices:
        return Html("")
    described = " · ".join(f"{name} ({describe(facts_)})" for name, facts_ in devices.items())
    return element("p", text(f"devices: {described}"), cls="devices")


def contents(sections: Sequence[Section]) -> Html:
    links = (f'<a href="#{s.anchor}">{text(s.title)}</a>' for s in sections)
    return element("nav", Html("".join(links)))


def describe(value: object) -> str | None:
    """A mapping or list as one readable line (`name=value, …`, missing values left out: a
    device without a cooldown shows none, not `cooldown=None`); None stays None."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={describe(v)}" for k, v in value.items() if not is_missing(v))
    if isinstance(value, (list, tuple)):
        return ", ".join(str(describe(v)) for v in value)
    return None if is_missing(value) else str(value)


def readable_time(value: object) -> str | None:
    """An ISO timestamp without the `T` and sub-second digits; anything else unchanged."""
    moment = _parse_time(value)
    if moment is not None:
        return moment.isoformat(sep=" ", timespec="seconds")
    return None if is_missing(value) else str(value)


def duration(started: object, finished: object) -> str | None:
    """`1 h 2 min 5 s` between two ISO timestamps, or None when either is missing."""
    start, end = _parse_time(started), _parse_time(finished)
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
        return None
    minutes, seconds = divmod(round((end - start).total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(hours, "h"), (minutes, "min"), (seconds, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"


def _parse_time(value: object) -> dt.datetime | None:
    try:
        # Python 3.10's fromisoformat does not read the `Z` suffix.
        return (
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if isinstance(value, str)
            else None
        )
    except ValueError:
        return None
