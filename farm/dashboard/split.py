"""A large run as a summary page and one page per device.

Above `SPLIT_CELLS` cells one page cannot stay readable or light (a 27 k-cell run drew 68 MB
of HTML): the summary page keeps the answer, the failure reasons and an index of devices, and
each device gets every view over its own cells, history and comparison in
`<page>-devices/<device>.html`. The device pages share one `plotly.min.js` beside them, so the
folder opens offline as one page did; a run of up to `SPLIT_CELLS` cells stays one
self-contained file.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import pandas as pd
from plotly.offline import get_plotlyjs

from farm.compare.comparison import Comparison
from farm.dashboard import PageProgress, answer, reasons
from farm.dashboard.cells import ordered_devices
from farm.dashboard.header import STATUSES
from farm.dashboard.markup import Html, element, hint, table, text
from farm.dashboard.page import NOTHING, VIEWS, render_page
from farm.dashboard.view import RunData, Section, View
from farm.workers import share_work

SPLIT_CELLS = 1000
PLOTLY_JS = "plotly.min.js"
INDEX_HEADERS = ("Device", "Cells", *STATUSES)


def write_pages(
    data: RunData, path: Path, progress: PageProgress | None = None, workers: int = 1
) -> Path:
    """The summary page at `path` and a page per device in `<stem>-devices/`, written by
    `workers` processes (`farm.workers`; 1: this one alone)."""
    folder = devices_folder(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
    devices = ordered_devices(data.cells)
    links = page_names(devices)
    cells = by_device(data.cells)
    histories = by_device(data.history) if data.history is not None else {}
    back = element("p", Html(f'<a href="../{text(path.name)}">← all devices</a>'), cls="back")
    pages = [
        Page(of_device(data, device, cells, histories), folder / links[device], PLOTLY_JS, back)
        for device in devices
    ]
    # The summary reads the cells alone; last in the list, so this process writes it first.
    views = (answer.section, reasons.section, partial(index, folder=folder.name, links=links))
    pages.append(Page(RunData(data.cells, data.run), path, views=views))
    written = itertools.count(1)

    def page_done(at: int) -> None:
        if progress and at < len(devices):
            progress(devices[at], next(written), len(devices))

    share_work(write_page, pages, workers=workers, done=page_done)
    return path


@dataclasses.dataclass(frozen=True)
class Page:
    """One page to write: its data and views, where plotly.js comes from, what goes on top."""

    data: RunData
    path: Path
    plotly_src: str | None = None
    above: Html = NOTHING
    views: Sequence[View] = VIEWS


def write_page(page: Page) -> None:
    html = render_page(page.data, page.views, plotly_src=page.plotly_src, above=page.above)
    page.path.write_text(html, encoding="utf-8")


def devices_folder(page: Path) -> Path:
    """Where a summary page's device pages are: `<stem>-devices/` beside it."""
    return page.parent / f"{page.stem}-devices"


def page_names(devices: Sequence[str]) -> dict[str, str]:
    """Each device's page file: its name with markup and slashes replaced, unique here."""
    names: dict[str, str] = {}
    for device in devices:
        names[device] = page_name(device, set(names.values()))
    return names


def page_name(device: str, taken: set[str]) -> str:
    """A file name from the device name (its markup and slashes replaced), unique here."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", device).strip(".") or "device"
    name, n = f"{stem}.html", 2
    while name in taken:
        name, n = f"{stem}-{n}.html", n + 1
    return name


def by_device(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A frame's rows of each device, split in one pass (a year of a 15-device lab is 1 M
    history rows: selecting each device's rows on its own took 15 passes over them)."""
    groups = frame.groupby(frame["device"].astype(str), sort=False, observed=True)
    return {str(device): rows for device, rows in groups}


def of_device(
    data: RunData,
    device: str,
    cells: Mapping[str, pd.DataFrame],
    histories: Mapping[str, pd.DataFrame],
) -> RunData:
    """One device's cells and history (its parts of `by_device`'s splits) and compared cells."""
    history = None if data.history is None else histories.get(device, data.history.iloc[0:0])
    return RunData(
        cells[device], data.run, history, narrowed(data.comparison, device), data.baseline
    )


def narrowed(comparison: Comparison | None, device: str) -> Comparison | None:
    """The compared cells of one device, under the run's threshold and confidence."""
    if comparison is None:
        return None
    rows = tuple(row for row in comparison.rows if row.device == device)
    return dataclasses.replace(comparison, rows=rows)


def index(data: RunData, folder: str, links: Mapping[str, str]) -> Section:
    """Each device's cell counts and a link to its page."""
    cells = data.cells
    counts = pd.crosstab(cells["device"].astype(str), cells["status"]).reindex(
        columns=list(STATUSES), fill_value=0
    )
    rows = []
    for device in ordered_devices(cells):
        href = f"{folder}/{links[device]}"
        link = Html(f'<a href="{text(href)}">{text(device)}</a>')
        shown = [int(n) for n in counts.loc[device].to_numpy()]
        rows.append([link, text(sum(shown)), *(text(n) for n in shown)])
    note = hint(f"{len(rows)} devices: every chart of a device is on its own page.")
    return Section("devices-index", "Devices", (note, table(INDEX_HEADERS, rows, cls="index")))
