"""The trace visualiser: one search trace as a single, self-contained, interactive HTML page.

``aitp visualise TRACE -o tree.html`` (or ``write_html(record, path)``) draws the AND-OR tree of one proof
attempt, left to right: goal boxes coloured by status, tactic pills between a goal and its subgoals (AND
nodes), the proof highlighted, and a step slider that replays the search in expansion order. Clicking a goal
or a tactic shows everything the trace holds about it in the side panel: the full goal text, the planner's
statistics (scores, visits, values, priors) and every tactic tried on it, failed ones included.

What the page draws:

* The trace is a graph (equal goals are merged, tactics can lead back to earlier goals). The page draws the
  spanning tree in which each goal hangs under its *source*, the first tactic application that produced it;
  a later application that produces the same goal shows a small ``↪ #id`` reference to it instead of a copy.
* One expansion step is a run of consecutive edges with the same parent (the tactics tried on one goal in
  one expansion), so step ``k`` of the slider shows what the tree held after ``k`` expansions. Goals turn
  green at the step their proof was complete; failures (which depend on when goals were exhausted, not
  recorded per step) show at the last step.
* Failed tactic applications (prover errors, timeouts) have no subgoals: they are listed in their goal's
  panel, and counted as ``✗N`` on its box.
* The tactics on a goal that led nowhere further (subgoals never expanded, goals closed), six or more, are
  packed into a framed grid beside it, with as many columns as make the whole tree largest in the window;
  tactics of the proof keep their own row. So a small search (89 goals after 4 expansions) fits a 1400×900
  window with every label readable.
* "fit" (and the opening view) shows the whole tree if it fits at a readable scale (labels at 8.8 px or more);
  otherwise it shows the tree at that scale from the root's side, and a second "fit" shows all of it. The
  header wraps (two lines at most, then ``…``, the whole text in its tooltip).

The package is the application's folder:

* ``data.py`` — the trace side: ``load_records``, ``select_record``, ``tree_payload`` (the columns of the trace
  plus what the page derives from them: sources, steps, proof times, the proof's edges);
* ``page.py`` — ``render_html`` / ``write_html`` / ``visualise``: the assets and the data inlined into one page;
* ``assets/page.html``, ``assets/page.css``, ``assets/page.js`` — the page itself (package data): the layout,
  drawing, pan and zoom, replay, side panel and search. The layout is hand-written: layered-layout libraries
  (dagre, ELK) put every leaf on a row of its own, so the 89-goal search above fits only at 4.4 px labels,
  and they take seconds on a few thousand goals.

The page needs no network: its JavaScript and CSS are inlined and the trace is embedded as JSON in a
``<script type="application/json">`` element, with ``<``, ``>`` and ``&`` escaped, and every text is put
into the page with ``textContent``, so goal texts and tactics (untrusted) can never become markup or code.
"""

from aitp_gym.visualise.data import (
    ERROR_OUTCOMES,
    TraceSelectionError,
    describe,
    load_records,
    select_record,
    tree_payload,
)
from aitp_gym.visualise.page import ASSETS, asset, embed_json, render_html, visualise, write_html

__all__ = [
    "ASSETS",
    "ERROR_OUTCOMES",
    "TraceSelectionError",
    "asset",
    "describe",
    "embed_json",
    "load_records",
    "render_html",
    "select_record",
    "tree_payload",
    "visualise",
    "write_html",
]
