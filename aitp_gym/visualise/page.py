"""The page side of the visualiser: the page's files (``assets/page.html``, ``page.css``, ``page.js``, package data
read with ``importlib.resources``) and the trace's data, inlined into one self-contained HTML file.

``page.html`` has four slots, each filled once, in one pass (a filled text is never searched for slots again):
``{{TITLE}}`` (HTML-escaped), ``{{CSS}}`` (inside ``<style>``), ``{{JS}}`` (inside ``<script>``) and ``{{DATA}}``
(``embed_json`` of ``data.tree_payload``, inside ``<script type="application/json">``). The assets themselves
must never close their element or open a comment (no ``</style``, ``</script``, ``<!--``; the tests check)."""

from __future__ import annotations

import functools
import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from aitp_gym.trace import TraceRecord, atomic_write_text, safe_name
from aitp_gym.visualise.data import load_records, select_record, tree_payload

ASSETS = ("page.html", "page.css", "page.js")
"""The page's files, in ``aitp_gym/visualise/assets/`` (setup.cfg ``package_data``: ``assets/*``)."""

_SLOT = re.compile(r"\{\{(TITLE|CSS|JS|DATA)\}\}")


@functools.cache
def asset(name: str) -> str:
    """The text of one of the page's files (``ASSETS``), read once per process."""
    if name not in ASSETS:
        raise ValueError(f"{name!r} is not one of the page's files {ASSETS}")
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


def embed_json(value: Any) -> str:
    """``value`` as JSON safe inside ``<script type="application/json">``: no ``</script>``, no ``<!--``, no
    line separators that older parsers choke on (``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def render_html(record: TraceRecord) -> str:
    """The whole page for one record, as a string."""
    header = record.header
    title = f"{header.get('theorem_id', 'trace')} · {header.get('planner', '?')} on {header.get('env_id', '?')}"
    slots = {"TITLE": html.escape(title), "CSS": asset("page.css"), "JS": asset("page.js"),
             "DATA": embed_json(tree_payload(record))}
    return _SLOT.sub(lambda m: slots[m.group(1)], asset("page.html"))


def write_html(record: TraceRecord, output: str | os.PathLike[str]) -> Path:
    """Write the page for ``record`` to ``output`` (atomically) and return its path."""
    output = Path(output)
    atomic_write_text(output, render_html(record))
    return output


def visualise(trace: str | os.PathLike[str], output: str | os.PathLike[str] | None = None,
              theorem: str | None = None, index: int | None = None) -> Path:
    """Read ``trace``, pick one record (``theorem``, ``index``), write its page; the page's path.

    Without ``output``, the page goes beside the trace: ``x.json.gz`` → ``x.html``; for a folder,
    ``FOLDER/<theorem id>.html``."""
    records = load_records(trace)
    record = select_record(records, theorem, index)
    if output is None:
        trace = Path(trace)
        if trace.is_dir():
            output = trace / f"{safe_name(str(record.header.get('theorem_id', 'trace')))}.html"
        else:
            name = trace.name
            for suffix in (".gz", ".jsonl", ".json"):
                name = name.removesuffix(suffix)
            output = trace.with_name(f"{name or 'trace'}.html")
    return write_html(record, output)
