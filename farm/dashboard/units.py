"""How numbers and missing values read on the page: `2.31 ms`, `3.2×`, and null as a gap."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pd.NA: the farm's "not reported", never 0."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def as_flag(value: object) -> bool | None:
    """A boolean column's value (numpy, pandas or Python bool); None when not reported."""
    return None if is_missing(value) else bool(value)


def format_ms(value: object) -> str:
    """Three significant digits in milliseconds (`0.723 ms`, `2.31 ms`, `152 ms`)."""
    if is_missing(value):
        return "—"
    return f"{_significant(float(value), 3)} ms"  # type: ignore[arg-type]


def format_speedup(value: object) -> str:
    """`3.2×` faster than the cpu cell; a slowdown keeps two digits (`0.45×`), except that
    0.95–1 reads `1.0×` like its neighbours."""
    if is_missing(value):
        return "—"
    speedup = float(value)  # type: ignore[arg-type]
    return f"{speedup:.1f}×" if speedup >= 0.95 else f"{_significant(speedup, 2)}×"


def format_tick_ms(value: float) -> str:
    """An axis label: three significant digits, no trailing zeros (`0.5 ms`, `2.69 ms`)."""
    return f"{float(_significant(value, 3)):g} ms"


def _significant(value: float, digits: int) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def samples_of(value: object) -> np.ndarray:
    """The per-iteration samples of a cell as floats; null or empty gives an empty array."""
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        samples = np.asarray(value, dtype=float)
        return samples[np.isfinite(samples)]
    return np.empty(0)


def thin_samples(samples: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` values with the same distribution (evenly spaced quantiles, min and max
    kept), so a 100 000-sample cell does not make the page heavy."""
    if len(samples) <= limit:
        return samples
    return np.quantile(samples, np.linspace(0.0, 1.0, limit))


def log_ticks(low_ms: float, high_ms: float) -> list[float]:
    """1-2-5 tick values (ms) for a log10 scale, from the last one at or below `low_ms` to the
    first one at or above `high_ms`."""
    first, last = math.floor(math.log10(low_ms)), math.ceil(math.log10(high_ms))
    steps = [round(s * 10.0**p, 12) for p in range(first, last + 1) for s in (1, 2, 5)]
    lowest = max(tick for tick in steps if tick <= low_ms)
    highest = min(tick for tick in steps if tick >= high_ms)
    return [tick for tick in steps if lowest <= tick <= highest]


def format_cosine(value: object) -> str:
    """Cosine similarity with two digits of its distance from 1 (`0.981`, `0.999978`); closer
    than 1e-5 the distance itself (`1 − 1.9e-08`), which no row of nines makes readable."""
    if is_missing(value):
        return "—"
    cosine = float(value)  # type: ignore[arg-type]
    gap = 1.0 - cosine
    if gap <= 0:
        return "1"
    if gap < 1e-5:
        return f"1 − {gap:.2g}"
    return f"{cosine:.{max(2, 1 - math.floor(math.log10(gap)))}f}"


def format_error(value: object) -> str:
    """An absolute error in three significant digits (`0.00781`, `1.15e-07`); 0 reads `0`."""
    if is_missing(value):
        return "—"
    return f"{float(value):.3g}"  # type: ignore[arg-type]


def format_share(value: object) -> str:
    """A share of 0..1 as a whole percentage (`60 %`)."""
    if is_missing(value):
        return "—"
    return f"{100 * float(value):.0f} %"  # type: ignore[arg-type]


def zero_floor(values: Iterable[float]) -> float:
    """Where a zero error sits on a log axis: the decade below the smallest positive value
    (1e-12 when there is none), so identical outputs stay visible instead of vanishing."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    return 10.0 ** (math.floor(math.log10(min(positive))) - 1) if positive else 1e-12


def decade_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Powers of ten from `low` up to the first at or above `high`, every second or third
    decade when there would be more than `most` ticks."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(max(high, low)))
    step = math.ceil((last - first + 1) / most)
    return [10.0**p for p in range(first, last + 1, step)]
