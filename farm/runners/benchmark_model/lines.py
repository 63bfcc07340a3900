"""Lines and numbers: each line less its capture and severity prefixes; tokens read as numbers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One printed line, normalised; its severity when the capture or the tag gives one."""

    raw: str  # as printed, less indentation and the logcat prefix: what `error` reports
    text: str  # raw less the severity tag (and LiteRT's source location): what regexes read
    level: str | None  # V D I W E F, from the severity tag or the logcat priority


# Android logcat captures: `-v threadtime` ("05-30 15:16:46.366  3380  3380 I tflite  : ...")
# and `-v brief` / `-v time` ("I/tflite  ( 3380): ...").
_LOGCAT = re.compile(
    r"[0-9]{2}-[0-9]{2}\s+[0-9:.]+\s+[0-9]+\s+[0-9]+\s+(?P<threadtime>[VDIWEF])\s[^:]*:\s?"
    r"|(?:[0-9]{2}-[0-9]{2}\s+[0-9:.]+\s+)?(?P<brief>[VDIWEF])/[^(:]*\(\s*[0-9]+\):\s?"
)
# TFLITE_LOG's severity tag (TF >= 2.3: "INFO: ", "ERROR: ", "VERBOSE: " ...); LiteRT (2025)
# adds the source location: "INFO: [./litert/tools/benchmark_litert_model.h:82] ".
_SEVERITIES = ("INFO", "WARNING", "WARN", "ERROR", "VERBOSE", "DEBUG", "FATAL")  # WARNING first
_SEVERITY = re.compile(rf"(?P<level>{'|'.join(_SEVERITIES)}): ?(?:\[[^\]\s]+:[0-9]+\] ?)?")
# A capture that cut a line's start keeps the tail of its tag ("FO: Memory footprint ...",
# "RROR: ..."): a bare upper-case word that ends a severity name, then ": ".
_CUT_TAG = re.compile(r"(?P<tail>[A-Z]{1,6}): (?:\[[^\]\s]+:[0-9]+\] ?)?")
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def split_lines(text: str) -> list[Line]:
    """Every line of the output, stripped of its logcat prefix and severity tag."""
    return [_normalize(line) for line in text.splitlines()]


def _normalize(line: str) -> Line:
    raw, level = line.strip(), None
    if logcat := _LOGCAT.match(raw):
        level = logcat["threadtime"] or logcat["brief"]
        raw = raw[logcat.end() :].strip()
    text = raw
    if severity := _SEVERITY.match(raw):
        level = severity["level"][0]
        text = raw[severity.end() :].strip()
    elif (cut := _CUT_TAG.match(raw)) and any(s.endswith(cut["tail"]) for s in _SEVERITIES):
        text = raw[cut.end() :].strip()  # the level went with the cut
    return Line(raw, text, level)


def number(token: str | None) -> float | None:
    """An int when printed as one (``2409``), else a float (``4.62513e+06``); junk → None."""
    if token is None or not _NUMBER.fullmatch(token):
        return None
    if token.lstrip("+-").isdigit() and len(token) <= 18:  # exact as an int, safe as a float
        return int(token)
    value = float(token)
    return value if math.isfinite(value) else None


def integer(token: str | None) -> int | None:
    """The token as an int; None when it is missing or not one."""
    try:
        return int(token) if token is not None else None
    except ValueError:  # not digits, or past Python's int-string length limit
        return None


def ms_to_us(value: float | None) -> float | None:
    """Milliseconds as microseconds, rounded to the nanosecond; None when missing or not finite."""
    # round: 0.47 ms * 1000 is 470.00000000000006 in binary floating point.
    us = None if value is None else round(value * 1000, 3)
    return us if us is not None and math.isfinite(us) else None
