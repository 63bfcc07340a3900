"""Device health and temperature: one table row per device with what it is (from its
fingerprint), how its cells ended, which cells were retried and whether it was quarantined;
then each device's temperature before and after every cell, with the cells that ended hot
flagged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, get_args

import pandas as pd

from farm.cores import fingerprint_cores, more_threads_than_cores
from farm.dashboard.cells import ordered_devices, records
from farm.dashboard.markup import Html, element, hint, notice, table, text
from farm.dashboard.temperature import (
    BEFORE_AFTER,
    hot_mask,
    hot_threshold_c,
    temperature_block,
)
from farm.dashboard.units import format_celsius, is_missing
from farm.dashboard.view import Block, RunData, Section, cells_of, per_device, recorded_facts
from farm.spec import INFRA_KINDS, QUARANTINE_PREFIX, FailureKind

ANCHOR, TITLE = "devices", "Devices: health and temperature"
HEADERS = ("Device", "Identity", "Runtimes", "Cells", "Health", "Temperature")
# What the targets' describe() report (adb: getprops, ssh: describe_linux.sh, local: platform),
# gathered into lines; a key a transport does not have is left out.
HARDWARE = ("manufacturer", "model", "soc", "board_platform", "board", "cpu", "cores", "cpu_count")
IDENTITY = {
    "transport": ("transport", "serial", "host"),
    "hardware": HARDWARE,
    "system": ("os", "sdk", "uname"),
    "abi": ("abi", "machine"),
}
PREFIX = {"serial": "serial ", "host": "host ", "sdk": "Android SDK ", "board_platform": "board "}
SUFFIX = {"cores": " cores", "cpu_count": " cores"}
# The lab's faults first, then the cell's own (spec.FailureKind's order).
FAILURE_KINDS = (*INFRA_KINDS, *(k for k in get_args(FailureKind) if k not in INFRA_KINDS))
SHOWN_RETRIES = 3
BADGE = {  # state → badge colour, the most serious first
    "quarantined": "failed",
    "unreachable": "failed",  # every cell that ran failed as infra: nothing was measured
    "infra failures": "warn",
    "retried": "warn",
    "not measured": "warn",  # every cell skipped
    "healthy": "ok",
}
TEMPERATURE_HINT = (
    "Before (open circle) and after (filled) each cell, in the order the cells ran. A cell ended "
    "hot when its temperature after was at or above the device's cooldown max_temp_c where the "
    "run recorded one, else at or above 70 °C; hot cells are ringed in red."
)
NO_TEMPERATURE = "No device reported a temperature: temp_before_c and temp_after_c are empty."


def section(data: RunData) -> Section:
    """The health table, then the temperatures (or a sentence per device without any)."""
    if data.cells.empty:
        return Section(ANCHOR, TITLE, (notice("No device ran a cell in this run."),))
    rows = [device_row(data, device) for device in ordered_devices(data.cells)]
    heading = element("h3", text("Temperature around each cell"), cls="part")
    health_table = table(HEADERS, rows, cls="health")
    return Section(ANCHOR, TITLE, (health_table, heading, *temperatures(data)))


def device_row(data: RunData, device: str) -> list[Html]:
    cells = cells_of(data.cells, device)
    facts = fingerprint(data.run, cells, device)
    return [
        text(device),
        lines(identity(facts)),
        lines(runtimes(cells, facts)),
        lines(outcomes(cells)),
        Html("<br>".join((health(cells), *oversubscribed(device, cells, facts)))),
        temperature_summary(cells, hot_threshold_c(data.run, device)),
    ]


def lines(texts: list[str]) -> Html:
    return Html("<br>".join(text(line) for line in texts)) if texts else text(None)


def fingerprint(run: Mapping[str, Any], cells: pd.DataFrame, device: str) -> dict[str, Any]:
    """The device's facts: the last fingerprint its cells carry, updated from run.json."""
    return cell_fingerprint(cells) | dict(recorded_facts(run, device))


def cell_fingerprint(cells: pd.DataFrame) -> dict[str, Any]:
    """The last of the cells' `device_fingerprint` JSON objects that parses; {} when none."""
    for value in reversed(cells["device_fingerprint"].dropna().tolist()):
        try:
            facts = json.loads(value)
        except (TypeError, ValueError):
            continue
        if isinstance(facts, dict):
            return facts
    return {}


def identity(facts: Mapping[str, Any]) -> list[str]:
    """`transport: adb · serial 3A28…`, `hardware: Google · Pixel 8 · Tensor G3` …"""
    found = []
    for label, keys in IDENTITY.items():
        shown = dict.fromkeys(
            f"{PREFIX.get(key, '')}{facts[key]}{SUFFIX.get(key, '')}"
            for key in keys
            if not is_missing(facts.get(key)) and str(facts[key]).strip()
        )
        if shown:
            found.append(f"{label}: {' · '.join(shown)}")
    return found or ["no fingerprint recorded"]


def runtimes(cells: pd.DataFrame, facts: Mapping[str, Any]) -> list[str]:
    """Every runtime and version the device's cells ran with, its runners, and its Python."""
    pairs = cells[["runtime", "runtime_version"]].dropna(subset=["runtime"]).drop_duplicates()
    seen = sorted(f"{r} {'' if is_missing(v) else v}".strip() for r, v in pairs.itertuples(False))
    runners = sorted(cells["runner"].dropna().astype(str).unique())
    python = [] if is_missing(facts.get("python")) else [f"python {facts['python']}"]
    return [*seen, *(f"runner {runner}" for runner in runners), *python]


def outcomes(cells: pd.DataFrame) -> list[str]:
    """`12 ok`, `3 failed (infra 2, delegate 1)`, `1 skipped`."""
    status = cells["status"]
    failed = cells[status.eq("failed").to_numpy(dtype=bool)]
    kinds = failed["failure_kind"].fillna("unknown").astype(str).value_counts()
    order = [*FAILURE_KINDS, *sorted(set(kinds.index) - set(FAILURE_KINDS))]
    by_kind = ", ".join(f"{kind} {kinds[kind]}" for kind in order if kind in kinds)
    return [
        f"{int(status.eq('ok').sum())} ok",
        f"{len(failed)} failed" + (f" ({by_kind})" if by_kind else ""),
        f"{int(status.eq('skipped').sum())} skipped",
    ]


def health(cells: pd.DataFrame) -> Html:
    """A badge (see BADGE), the infra failures, the retried cells and the quarantine reason."""
    retried = cells[pd.to_numeric(cells["attempt"], errors="coerce").gt(1).to_numpy(dtype=bool)]
    benched, infra, ran = quarantined(cells), infra_failed(cells), ran_cells(cells)
    states = {
        "quarantined": len(benched),
        "unreachable": len(ran) and len(infra) == len(ran),
        "infra failures": len(infra),
        "retried": len(retried),
        "not measured": ran.empty,
    }
    state = next((name for name, found in states.items() if found), "healthy")
    parts = [element("span", text(state), cls=f"badge {BADGE[state]}")]
    parts += [text(infra_line(infra, ran))] if len(infra) and not len(benched) else []
    parts += [text(retries_line(retried))] if len(retried) else []
    if len(benched):
        not_run = f"quarantined: {len(benched)} cell{'s' if len(benched) != 1 else ''} not run"
        last_reason = element("span", text(benched["reason"].iloc[-1]), cls="reason")
        parts += [text(not_run), last_reason]
    return Html("<br>".join(parts))


def ran_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells that were tried (ok or failed), not skipped."""
    return cells[cells["status"].isin(("ok", "failed")).to_numpy(dtype=bool)]


def infra_failed(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells that failed for the lab's reasons (unreachable, refused, timed out)."""
    failed = cells["status"].eq("failed") & cells["failure_kind"].isin(INFRA_KINDS)
    return cells[failed.to_numpy(dtype=bool)]


def infra_line(infra: pd.DataFrame, ran: pd.DataFrame) -> str:
    """`all 4 cells failed as infra: cannot reach …` / `1 of 4 cells failed as infra: …`."""
    share = f"all {len(ran)}" if len(infra) == len(ran) else f"{len(infra)} of {len(ran)}"
    return f"{share} cells failed as infra: {infra['reason'].fillna('').iloc[-1]}"


def oversubscribed(device: str, cells: pd.DataFrame, facts: Mapping[str, Any]) -> list[Html]:
    """A warning when a tried cell had more threads than the device's cores (where known)."""
    cores = fingerprint_cores(facts)
    threads = pd.to_numeric(ran_cells(cells)["threads"], errors="coerce").max()
    if cores is None or pd.isna(threads) or threads <= cores:
        return []
    return [element("span", text(more_threads_than_cores(device, int(threads), cores)), cls="over")]


def quarantined(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells a quarantine took out, in the order they were recorded."""
    reasons = cells["reason"].fillna("").astype(str)
    return cells[reasons.str.startswith(QUARANTINE_PREFIX).to_numpy(dtype=bool)]


def retries_line(retried: pd.DataFrame) -> str:
    """`retried 1: kws xnnpack/t1 → ok on attempt 2`, the first few cells named."""
    named = [
        f"{row['model']} {row['column']} → {row['status']} on attempt {row['attempt']}"
        for row in records(retried)
    ]
    more = len(named) - SHOWN_RETRIES
    shown = named[:SHOWN_RETRIES] + ([f"{more} more"] if more > 0 else [])
    return f"retried {len(retried)}: {'; '.join(shown)}"


def temperature_summary(cells: pd.DataFrame, threshold: tuple[float, str]) -> Html:
    """The range before and after the cells, and how many ended hot (red when any did)."""
    before = pd.to_numeric(cells["temp_before_c"], errors="coerce").dropna()
    after = pd.to_numeric(cells["temp_after_c"], errors="coerce").dropna()
    if before.empty and after.empty:
        return text("not reported")
    ranges = [
        f"{when} {celsius_range(values)}" for when, values in (("before", before), ("after", after))
    ]
    hot = int(hot_mask(cells, threshold[0]).sum())
    verdict = f"{hot or 'none'} ended hot (≥ {threshold[0]:g} °C, {threshold[1]})"
    flagged = element("span", text(verdict), cls="over") if hot else text(verdict)
    return Html(f"{lines(ranges)}<br>{flagged}")


def celsius_range(values: pd.Series) -> str:
    if values.empty:
        return "not reported"
    low, high = format_celsius(values.min()), format_celsius(values.max())
    return low if low == high else f"{low.removesuffix(' °C')}–{high}"


def temperatures(data: RunData) -> list[Block]:
    """The rule, then a strip per device; one sentence when no device reported any."""
    if data.cells[list(BEFORE_AFTER)].isna().all(axis=None):
        return [notice(NO_TEMPERATURE)]
    strips = per_device(data.cells, lambda cells: temperature_block(cells, data.run))
    return [hint(TEMPERATURE_HINT), *strips]
