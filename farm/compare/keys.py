"""Which cells of two result sets may be compared, and if not, why not.

Two cells are the same cell when their key (device, model, delegate, threads) matches. They are
*comparable* only when what produced the numbers is the same too: the runner and runtime with its
version (for `benchmark_model` the version is the binary's sha256), the delegate library when a
result set records it, the model bytes (sha256) and the stable part of the device fingerprint.
A difference in any of them is reported, never compared silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from farm.spec import CellKey

Row = Mapping[str, Any]

# Columns naming what produced the numbers. `delegate_library*` are not in today's schema; a
# result set that records them (a renamed or rebuilt external delegate .so) is checked on them.
IDENTITY_COLUMNS = (
    "runner",
    "runtime",
    "runtime_version",
    "delegate_library",
    "delegate_library_sha256",
    "model_sha256",
)
# Which API and accelerator produced an accelerator cell's numbers (a software GPU is not a
# phone's; a new NPU SDK or dispatch library is a new measurement). Results written before the
# farm recorded them have none: checked only where both sides do.
RECORDED_COLUMNS = ("api", "accelerator", "accelerator_sdk", "dispatch_sha256")
# Fingerprint fields that describe the hardware and software image, as the targets report them
# (local: model, machine, os; adb: ro.* properties; ssh: describe_linux.sh). Anything else is
# treated as volatile: the adb serial (127.0.0.1:PORT changes on every reconnect), the ssh host
# alias, and edgetpu_device (the USB id of an Edge TPU changes once its firmware is loaded).
STABLE_FINGERPRINT_FIELDS = (
    "transport",
    "model",
    "manufacturer",
    "soc",
    "soc_manufacturer",
    "board_platform",
    "board",
    "build_fingerprint",
    "sdk",
    "abi",
    "cpu",
    "machine",
    "cpu_count",
    "cores",
    "os",
    "uname",
    "python",
    "edgetpu_library",
)


def rows_by_key(frame: pd.DataFrame) -> dict[CellKey, dict[str, Any]]:
    """Each row of a results frame as a plain dict (nulls as None), by cell key.

    A key that appears twice (a frame built from several attempts) keeps its last row, as the
    journal does.
    """
    # Column by column, not record by record: pandas' to_dict("records") and a _plain call per
    # value took 2.5 s of a 2,880-cell comparison's 8.
    columns = [str(name) for name in frame.columns]
    values = [_plain_column(frame[name]) for name in frame.columns]
    rows: dict[CellKey, dict[str, Any]] = {}
    for row_values in zip(*values, strict=True):
        row = dict(zip(columns, row_values, strict=True))
        rows[CellKey.of(row)] = row
    return rows


def incomparable_reasons(base: Row, new: Row) -> list[str]:
    """Why two rows of the same cell cannot be compared; empty when they can."""
    reasons = [
        f"{column} differs: {_shown(base.get(column))} → {_shown(new.get(column))}"
        for column in _checked(base, new)
        if base.get(column) != new.get(column)
    ]
    fingerprint = fingerprint_difference(
        base.get("device_fingerprint"), new.get("device_fingerprint")
    )
    return reasons + ([fingerprint] if fingerprint else [])


def _checked(base: Row, new: Row) -> list[str]:
    recorded = [c for c in RECORDED_COLUMNS if None not in (base.get(c), new.get(c))]
    return [*IDENTITY_COLUMNS, *recorded]


def unchecked_notes(base: Row, new: Row) -> list[str]:
    """What could not be checked, said next to the comparison instead of assumed equal."""
    notes = []
    if base.get("delegate") == "external" and not any(
        base.get(c) or new.get(c) for c in ("delegate_library", "delegate_library_sha256")
    ):
        notes.append("delegate library not recorded: not checked")
    for side, row in (("BASE", base), ("NEW", new)):
        if row.get("device_fingerprint") is None:
            notes.append(f"no device fingerprint in {side}: not checked")
    return notes


def fingerprint_difference(base: str | None, new: str | None) -> str | None:
    """The stable fingerprint fields that differ, as a reason; None when none does.

    A field only one side reports (an older farm, a property the device did not answer) is not
    a difference: there is nothing to compare it with.
    """
    if base is None or new is None:
        return None
    base_facts, new_facts = _facts(base), _facts(new)
    if base_facts is None or new_facts is None:
        return None if base == new else "device fingerprint differs (not JSON)"
    changed = [
        f"{field} {_shown(base_facts[field])} → {_shown(new_facts[field])}"
        for field in STABLE_FINGERPRINT_FIELDS
        if base_facts.get(field) is not None
        and new_facts.get(field) is not None
        and str(base_facts[field]) != str(new_facts[field])
    ]
    return "device fingerprint differs: " + ", ".join(changed) if changed else None


def _facts(fingerprint: str) -> dict[str, Any] | None:
    try:
        facts = json.loads(fingerprint)
    except ValueError:
        return None
    return facts if isinstance(facts, dict) else None


def _shown(value: object) -> str:
    return "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)


_SCALARS = (str, int, float, bool)


def _plain_column(column: pd.Series) -> list[Any]:
    """``_plain`` of every value of a column; Python's own scalars (what ``tolist`` gives for
    the results schema's columns) only need their missing marks turned into None."""
    missing = column.isna().tolist()
    return [
        None if gap else value if type(value) in _SCALARS else _plain(value)
        for value, gap in zip(column.tolist(), missing, strict=True)
    ]


def _plain(value: Any) -> Any:
    """pandas' missing markers (None, NaN, NA) as None; list-like cells (samples) as lists."""
    if getattr(value, "ndim", 0) > 0 or isinstance(value, (list, tuple)):
        return list(value)
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
