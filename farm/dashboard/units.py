"""How numbers and missing values read on the page: `2.31 ms`, `3.2×`, and null as a gap."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable

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


def dash_when_missing(format_number: Callable[[float], str]) -> Callable[[object], str]:
    """A formatter of any cell value: the number formatted, or a dash when it is missing."""

    @functools.wraps(format_number)
    def format_value(value: object) -> str:
        return "—" if is_missing(value) else format_number(float(value))  # type: ignore[arg-type]

    return format_value


@dash_when_missing
def format_ms(value: float) -> str:
    """Three significant digits in milliseconds (`0.723 ms`, `2.31 ms`, `152 ms`)."""
    return f"{_significant(value, 3)} ms"


def format_ms_all(values: Iterable[float]) -> list[str]:
    """`format_ms` of many values at once (a year of trend points is 255 k of them): the number
    of decimals worked out with numpy, then one format per value; the same strings."""
    array = np.asarray(list(values), dtype=float)
    shown = np.full(array.shape, "—", dtype=object)
    plain = np.isfinite(array) & (array != 0)
    decimals = np.zeros(array.shape, dtype=np.int64)
    magnitude = np.floor(np.log10(np.abs(array[plain]))).astype(np.int64)
    decimals[plain] = np.maximum(0, 2 - magnitude)
    for places in np.unique(decimals[plain]).tolist():
        picked = plain & (decimals == places)
        shown[picked] = [f"{value:.{places}f} ms" for value in array[picked].tolist()]
    special = ~np.isnan(array) & ~plain  # 0 and ±inf, as `_significant` writes them
    shown[special] = [f"{value:g} ms" for value in array[special].tolist()]
    return list(shown.tolist())


@dash_when_missing
def format_speedup(value: float) -> str:
    """`3.2×` faster than the cpu cell; a slowdown keeps two digits (`0.45×`), except that
    0.95–1 reads `1.0×` like its neighbours."""
    return f"{value:.1f}×" if value >= 0.95 else f"{_significant(value, 2)}×"


@dash_when_missing
def format_mb(size_bytes: float) -> str:
    """A file size in MB (10⁶ bytes), three significant digits: `2.12 MB`, `0.0989 MB`."""
    return f"{_significant(size_bytes / 1e6, 3)} MB"


@dash_when_missing
def format_celsius(value: float) -> str:
    """A temperature to a tenth of a degree: `41.5 °C`."""
    return f"{value:.1f} °C"


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


@dash_when_missing
def format_cosine(value: float) -> str:
    """Cosine similarity with two digits of its distance from 1 (`0.981`, `0.999978`); closer
    than 1e-5 the distance itself (`1 − 1.9e-08`), which no row of nines makes readable."""
    gap = 1.0 - value
    if gap <= 0:
        return "1"
    if gap < 1e-5:
        return f"1 − {gap:.2g}"
    return f"{value:.{max(2, 1 - math.floor(math.log10(gap)))}f}"


# cosine is computed in float64: identical outputs give 1 ± a few 1e-16, which is not a drift.
COSINE_NOISE = 1e-15


def cosine_gap(cosines: pd.Series) -> pd.Series:
    """1 − cosine similarity; float noise (or a cosine a hair above 1) reads 0, null stays null."""
    gap = 1.0 - pd.to_numeric(cosines, errors="coerce")
    return gap.mask(gap < COSINE_NOISE, 0.0)


@dash_when_missing
def format_error(value: float) -> str:
    """An absolute error in three significant digits (`0.00781`, `1.15e-07`); 0 reads `0`."""
    return f"{value:.3g}"


@dash_when_missing
def format_share(value: float) -> str:
    """A share of 0..1 as a whole percentage (`60 %`)."""
    return f"{100 * value:.0f} %"


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


@dash_when_missing
def format_change(value: float) -> str:
    """A relative change with its sign, a tenth of a percent: `+10.2 %`, `-3.0 %`, `+0.0 %`
    (never `-0.0 %`)."""
    return f"{round(100 * value, 1) or 0.0:+.1f} %"


def even_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round values 1, 2 or 5 × 10ⁿ apart from at or below `low` to at or above `high`, about
    `most` of them: for a range too narrow to hold two 1-2-5 ticks of a log axis."""
    wanted = max(high - low, abs(high) * 1e-6) / (most - 1)
    power = 10.0 ** math.floor(math.log10(wanted))
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= wanted)
    first = math.floor(low / step) * step
    return [round(first + i * step, 12) for i in range(math.ceil((high - first) / step) + 1)]
