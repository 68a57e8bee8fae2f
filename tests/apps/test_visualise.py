"""The trace visualiser (``aitp_gym/visualise/``): the page is its package-data assets and the trace's data inlined,
self-contained and safe, every planner's trace renders, the command line (``aitp_gym.cli.visualise``) fails
clearly, and (in headless Chromium) the tree, the step slider and the side panel work, a small tree is readable when
fitted to the window and the header is never cut.

The browser test's screenshot goes to its ``tmp_path``. ``AITP_UPDATE_DOC_IMAGES=1 pytest
tests/apps/test_visualise.py -k works_in_chromium`` also writes it over the README's ``docs/img/visualiser.png``;
nothing else touches that file."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
from doubles import ROOT

from aitp_gym import Goal, Outcome, ProofTree, TraceRecord, write_trace
from aitp_gym.attempt import ProofAttempt
from aitp_gym.cli import main
from aitp_gym.envs.sr.backend import SRBackend
from aitp_gym.search import PLANNERS, make_planner
from aitp_gym.trace import write_traces
from aitp_gym.visualise import (
    ASSETS,
    TraceSelectionError,
    asset,
    embed_json,
    render_html,
    select_record,
    tree_payload,
    visualise,
)

DOC_IMAGE = ROOT / "docs" / "img" / "visualiser.png"
UPDATE_DOC_IMAGES = "AITP_UPDATE_DOC_IMAGES"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)> & <!-- \"' \u2028 </SCRIPT >"


def sr_trace(planner: str = "bestfs", budget: int = 6, theorem: int = 2) -> TraceRecord:
    backend = SRBackend()
    attempt = ProofAttempt(backend, backend.theorems("valid")[theorem])
    return make_planner(planner, max_expansions=budget).search(attempt).trace


def embedded(page: str) -> dict:
    """The JSON the page embeds, parsed strictly (no NaN or Infinity)."""
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S)
    assert match, "no embedded trace data"

    def refuse(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(match.group(1), parse_constant=refuse)


def hostile_record() -> TraceRecord:
    """A HOList-like tree whose goal texts, tactic, message and theorem id try to break out of the page."""
    tree = ProofTree(Goal("⊢ " + HOSTILE + " " + "!x. x = x /\\ " * 60, key="root"))
    edge_goals = [Goal(f"⊢ part {i} " + HOSTILE, key=f"g{i}") for i in range(2)]
    tree.add_edge(tree.root, "ARITH_TAC", Outcome.error("linear_ineqs: " + HOSTILE))
    tree.add_edge(tree.root, "CONJ_TAC " + HOSTILE, Outcome.ok(edge_goals), logprob=-0.5)
    for node in tree.nodes[1:]:
        tree.add_edge(node, "REWRITE_TAC []", Outcome.proved(), logprob=-1.0)
    stats = {0: {"score": float("-inf"), "note": HOSTILE}, 1: {"score": float("nan")}}
    return TraceRecord.from_tree(tree, {"env_id": "HOList-v0", "theorem_id": HOSTILE, "planner": "bestfs"},
                                 {"proved": True}, stats)


# ---------------------------------------------------------------------------------------------- the page
def test_the_page_is_self_contained():
    page = render_html(sr_trace())
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"<script[^>]*\bsrc\s*=|<link[^>]*stylesheet|@import|url\(", page, re.I)
    assert page.count("<script") == 2 and "<svg" in page  # the data and the code, both inline
    assert embedded(page)["header"]["planner"] == "bestfs"


def test_the_page_is_its_asset_files_inlined():
    """The page's HTML, CSS and JS are package data (``aitp_gym/visualise/assets/``), inlined whole into the one
    page; each slot of page.html is filled once, and a slot's name in a trace's text stays text."""
    for name in ASSETS:
        assert (resources.files("aitp_gym.visualise") / "assets" / name).is_file()
    template, css, js = asset("page.html"), asset("page.css"), asset("page.js")
    assert [template.count("{{" + slot + "}}") for slot in ("TITLE", "CSS", "JS", "DATA")] == [1, 1, 1, 1]
    # nothing in the assets ends its element early or opens a comment
    assert "</style" not in css.lower() and "<script" not in js.lower() and "</script" not in js.lower()
    assert all("<!--" not in text for text in (template, css, js))
    record = sr_trace(budget=2)
    record.header["theorem_id"] = "{{JS}}{{DATA}}"
    page = render_html(record)
    assert f"<style>\n{css}</style>" in page and f"<script>\n{js}</script>" in page
    assert page.count(js) == 1 and "<title>{{JS}}{{DATA}} · bestfs on SR-v0</title>" in page
    assert embedded(page)["header"]["theorem_id"] == "{{JS}}{{DATA}}"


def test_hostile_texts_stay_text():
    record = hostile_record()
    page = render_html(record)
    assert page.count("<script") == 2 and page.lower().count("</script") == 2
    assert "<img" not in page and "<!--" not in page
    data_part = page[page.index('id="trace-data">'):page.index("</script>")]
    assert "\u2028" not in data_part and "<" not in data_part[len('id="trace-data">'):]
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(1)" in page
    data = embedded(page)
    texts = ["\n".join(data["lines"][i] for i in t) for t in data["nodes"]["text"]]
    assert texts == [n["text"] for n in record.nodes]
    assert data["edges"]["tactic"][1] == "CONJ_TAC " + HOSTILE and HOSTILE in data["edges"]["message"][0]
    assert data["nodes"]["stats"][0] == {"score": "-inf", "note": HOSTILE}
    assert data["nodes"]["stats"][1]["score"] == "nan"
    # the code builds every text with textContent, never with markup
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page


def test_embed_json_escapes_markup():
    text = embed_json({"a": "</script><!--&>\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!--&>\u2029"}


@pytest.mark.parametrize("planner", sorted(PLANNERS))
def test_every_planners_trace_renders(planner):
    record = sr_trace(planner, budget=8)
    data = embedded(render_html(record))
    derived = data["derived"]
    assert len(data["nodes"]["status"]) == len(record.nodes) and len(data["edges"]["parent"]) == len(record.edges)
    assert derived["steps"] == record.result["expansions"]
    assert data["nodes"]["stats"] == [n.get("stats") for n in record.nodes]
    if record.result["proved"]:
        proof = [data["edges"]["tactic"][e] for e in derived["proof_edges"]]
        assert sorted(proof) == sorted(record.result["proof_script"])
        assert derived["proved_at"][0] >= 1
    # every goal but the root hangs under an edge applied at or after the step its parent was expanded
    for n, e in enumerate(derived["source"]):
        assert (e == -1) == (n == 0)


def test_steps_proof_and_sources_of_a_small_tree():
    """
    root ──a──▶ A ──x (error)
         │      └──y──▶ (closed)          step 1: root; step 2: A; step 3: B
         └──b──▶ A, B   B ──z──▶ root (cycle)
    """
    tree = ProofTree(Goal("root"))
    a_edge = tree.add_edge(tree.root, "a", Outcome.ok([Goal("A")]))
    tree.add_edge(tree.root, "b", Outcome.ok([Goal("A"), Goal("B")]))
    node_a, node_b = tree.nodes[1], tree.nodes[2]
    tree.add_edge(node_a, "x", Outcome.error("no"))
    y_edge = tree.add_edge(node_a, "y", Outcome.proved())
    tree.add_edge(node_b, "z", Outcome.ok([Goal("root")]))
    record = TraceRecord.from_tree(tree, {"env_id": "scripted"}, {"proved": True, "proof": None})
    derived = tree_payload(record)["derived"]
    assert derived["steps"] == 3 and derived["step"] == [1, 1, 2, 2, 3] and derived["step_node"] == [-1, 0, 1, 2]
    assert derived["source"] == [-1, 0, 1]  # A under a (the first edge to make it), B under b; root stays a root
    assert derived["expand"] == [1, 2, 3]
    assert derived["proved_at"] == [2, 2, 3]  # B by z, once the root was proved (as the tree has it)
    assert [n.status.value for n in tree.nodes] == ["proved"] * 3
    assert derived["proof_edges"] == [a_edge.id, y_edge.id]  # no result["proof"]: the first proving edges


def test_the_proof_of_the_result_is_the_one_highlighted():
    tree = ProofTree(Goal("root"))
    tree.add_edge(tree.root, "long", Outcome.ok([Goal("A")]))
    tree.add_edge(tree.root, "short", Outcome.proved())
    tree.add_edge(tree.nodes[1], "close", Outcome.proved())
    proof = {"tactic": "short", "goal": "root", "children": []}
    record = TraceRecord.from_tree(tree, {"env_id": "scripted"}, {"proved": True, "proof": proof})
    assert tree_payload(record)["derived"]["proof_edges"] == [1]


# ---------------------------------------------------------------------------------------------- selection, CLI
def test_selection_by_theorem_and_index(tmp_path):
    records = [sr_trace(budget=2, theorem=i) for i in range(3)]
    assert select_record(records, theorem="sr-valid-0001") is records[1]
    assert select_record(records, index=2) is records[2]
    with pytest.raises(TraceSelectionError, match=r"--index 0: sr-valid-0000.*\n.*--index 1: sr-valid-0001"):
        select_record(records)
    with pytest.raises(TraceSelectionError, match="no trace of theorem 'nope'"):
        select_record(records, theorem="nope")
    with pytest.raises(TraceSelectionError, match="out of range"):
        select_record(records, index=3)
    with pytest.raises(TraceSelectionError, match="not --theorem"):
        select_record(records, theorem="sr-valid-0000", index=1)
    write_traces(tmp_path / "shard.jsonl.gz", records)
    out = visualise(tmp_path / "shard.jsonl.gz", theorem="sr-valid-0002")
    assert out == tmp_path / "shard.html" and embedded(out.read_text())["header"]["theorem_id"] == "sr-valid-0002"


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_errors_are_clear(tmp_path, capsys):
    code, _, err = run_cli(capsys, "visualise", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file" in err
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    code, _, err = run_cli(capsys, "visualise", str(tmp_path / "notes.json"))
    assert code == 2 and "not an aitp-gym trace" in err
    (tmp_path / "broken.json.gz").write_bytes(b"not gzip at all")
    code, _, err = run_cli(capsys, "visualise", str(tmp_path / "broken.json.gz"))
    assert code == 2 and "not a trace file" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "visualise", str(tmp_path / "empty"))
    assert code == 2 and "no traces" in err
    write_traces(tmp_path / "two.jsonl", [sr_trace(budget=1, theorem=0), sr_trace(budget=1, theorem=1)])
    code, _, err = run_cli(capsys, "visualise", str(tmp_path / "two.jsonl"))
    assert code == 2 and "--index 1: sr-valid-0001" in err and "--theorem" in err
    code, _, err = run_cli(capsys, "visualise", str(tmp_path / "two.jsonl"), "--theorem", "sr-valid-0009")
    assert code == 2 and "no trace of theorem 'sr-valid-0009'" in err and "--index 0: sr-valid-0000" in err
    code, out, _ = run_cli(capsys, "visualise", str(tmp_path / "two.jsonl"), "--index", "1", "-o",
                           str(tmp_path / "t.html"))
    assert code == 0 and out.strip() == str(tmp_path / "t.html") and (tmp_path / "t.html").stat().st_size > 0


def test_cli_as_a_user_runs_it(tmp_path):
    trace = tmp_path / "t.json.gz"
    write_trace(trace, sr_trace(budget=3))
    p = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "visualise", str(trace), "-o", str(tmp_path / "x.html")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and (tmp_path / "x.html").read_text().startswith("<!DOCTYPE html>")
    p = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "visualise", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and all(o in p.stdout for o in ("--theorem", "--index", "--output", "TRACE"))
    p = subprocess.run([sys.executable, "-m", "aitp_gym.cli", "visualise", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "no such file" in p.stderr


# ---------------------------------------------------------------------------------------------- in a browser
def _chromium() -> tuple[str, str] | None:
    browser = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"))
                    if p and os.path.exists(p)), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and os.path.exists(p)),
                  None)
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser():
    found = _chromium()
    if found is None:
        pytest.skip("no chromium and chromedriver on this machine (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,860", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def visible_goals(driver) -> int:
    return driver.execute_script(
        "return [...document.querySelectorAll('svg g.goal')].filter(g => g.style.display !== 'none').length")


def test_the_page_works_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    record = sr_trace("htps", budget=20)  # 18 expansions to a proof, 786 goals
    assert record.result["proved"]
    page = tmp_path / "tree.html"
    visualise_path = visualise(_write(tmp_path, record), page)
    browser.get(visualise_path.as_uri())
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    data = embedded(page.read_text())

    # every goal is drawn once, every applied tactic once
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg g.goal")) == len(record.nodes)
    applied = sum(e["outcome"] not in ("error", "timeout") for e in record.edges)
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg g.and")) == applied
    assert visible_goals(browser) == len(record.nodes)
    assert browser.find_elements(By.CSS_SELECTOR, "svg g.goal.proof")  # the proof is highlighted

    # the slider replays: step 0 shows the root alone, step 2 what two expansions made
    slider = browser.find_element(By.ID, "step")
    slider.send_keys(Keys.HOME)
    assert visible_goals(browser) == 1
    slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    source, steps = data["derived"]["source"], data["derived"]["step"]
    expected = sum(1 for e in source if e < 0 or steps[e] <= 2)
    assert 1 < visible_goals(browser) == expected < len(record.nodes)
    assert "2 / " in browser.find_element(By.ID, "steplabel").text
    slider.send_keys(Keys.END)
    assert visible_goals(browser) == len(record.nodes)

    # a click on the root shows its goal and the planner's statistics in the panel
    browser.find_element(By.ID, "root").click()
    browser.find_element(By.CSS_SELECTOR, 'svg g.goal[data-node="0"] rect').click()
    panel = browser.find_element(By.ID, "panel").text
    stats = record.nodes[0]["stats"]
    assert "goal #0" in panel and "visits" in panel and str(stats["visits"]) in panel
    assert record.nodes[0]["text"].splitlines()[0] in panel and "tactics tried" in panel
    # the panel's link to a tactic of the proof centres the tree on it; a click on it shows its log-prob and
    # the planner's numbers for it
    proof_edge = data["derived"]["proof_edges"][0]
    browser.find_element(By.CSS_SELECTOR, f'#panel button[data-goto="a{proof_edge}"]').click()
    browser.find_element(By.ID, "find").click()  # away from the tactic: the panel still shows it
    browser.find_element(By.CSS_SELECTOR, f'svg g.and[data-edge="{proof_edge}"] rect').click()
    panel = browser.find_element(By.ID, "panel").text
    assert record.edges[proof_edge]["tactic"] in panel and "log-prob" in panel and "prior" in panel

    # "only expanded goals" hides the leaves that were never expanded
    browser.find_element(By.ID, "prune").click()
    kept = {n for n, step in enumerate(data["derived"]["expand"]) if step >= 0}
    kept |= {n for n, node in enumerate(record.nodes) if node["status"] == "proved"}
    assert visible_goals(browser) == len(kept) < len(record.nodes)
    subgoal = record.edges[proof_edge]["children"][0]
    browser.find_element(By.CSS_SELECTOR, f'#panel button[data-goto="g{subgoal}"]').click()

    browser.find_element(By.ID, "proof").click()  # fit the proof in view, for the screenshot

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    docs_before = _listing(DOC_IMAGE.parent)
    written = save_screenshot(browser, tmp_path)
    assert written[0] == tmp_path / DOC_IMAGE.name and written[0].stat().st_size > 10_000
    if os.environ.get(UPDATE_DOC_IMAGES) != "1":
        assert written == [written[0]] and _listing(DOC_IMAGE.parent) == docs_before  # docs/img untouched
    assert time.monotonic() - started < 30


def save_screenshot(driver, tmp_path: Path, doc_image: Path = DOC_IMAGE) -> list[Path]:
    """The page's screenshot, in ``tmp_path``; also over ``doc_image`` (the README's) only when asked, with
    ``AITP_UPDATE_DOC_IMAGES=1``, so that running the tests leaves the repository as it was. The paths written."""
    shot = tmp_path / doc_image.name
    assert driver.save_screenshot(str(shot))
    if os.environ.get(UPDATE_DOC_IMAGES) != "1":
        return [shot]
    doc_image.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, doc_image)
    return [shot, doc_image]


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()} if folder.is_dir() else {}


def test_the_browser_tests_write_docs_img_only_when_asked(browser, tmp_path, monkeypatch):
    browser.get(visualise(_write(tmp_path, sr_trace(budget=2)), tmp_path / "t.html").as_uri())
    docs_before = _listing(DOC_IMAGE.parent)
    monkeypatch.delenv(UPDATE_DOC_IMAGES, raising=False)
    assert save_screenshot(browser, tmp_path) == [tmp_path / "visualiser.png"]
    assert _listing(DOC_IMAGE.parent) == docs_before
    asked = tmp_path / "docs" / "img" / "visualiser.png"  # a stand-in for docs/img, to leave the real one alone
    monkeypatch.setenv(UPDATE_DOC_IMAGES, "1")
    assert save_screenshot(browser, tmp_path, asked) == [tmp_path / "visualiser.png", asked]
    assert asked.read_bytes() == (tmp_path / "visualiser.png").read_bytes()
    assert _listing(DOC_IMAGE.parent) == docs_before


def _write(tmp_path, record):
    path = tmp_path / "trace.json.gz"
    write_trace(path, record)
    return path


@pytest.mark.parametrize("planner", sorted(PLANNERS))
def test_every_planners_page_loads_without_errors(browser, tmp_path, planner):
    from selenium.webdriver.common.by import By

    record = sr_trace(planner, budget=4, theorem=1)
    browser.get(visualise(_write(tmp_path, record), tmp_path / "t.html").as_uri())
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg g.goal")) == len(record.nodes)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_hostile_goals_are_shown_as_text_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    record = hostile_record()
    browser.get(visualise(_write(tmp_path, record), tmp_path / "t.html").as_uri())
    assert browser.execute_script("return document.querySelectorAll('img, svg script, #panel script').length") == 0
    labels = [g.text for g in browser.find_elements(By.CSS_SELECTOR, "svg g.goal text")]
    assert len(labels) == 3 and all(len(label) <= 40 for label in labels)  # long goals are cut in the tree
    browser.find_element(By.CSS_SELECTOR, 'svg g.goal[data-node="0"] rect').click()
    shown = browser.find_element(By.CSS_SELECTOR, "#panel pre").get_attribute("textContent")
    assert shown == record.nodes[0]["text"]  # and shown whole, as text, in the panel
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


# what a reader sees of the tree's labels: shown, on screen at least this large, inside the tree's area
_LABELS_SEEN = """
const area = document.getElementById('tree').getBoundingClientRect(), out = [];
for (const g of document.querySelectorAll('svg g.goal, svg g.and')) {
  const t = g.querySelector('text'), r = t.getBoundingClientRect();
  const box = g.querySelector('rect').getBoundingClientRect();
  const shown = g.style.display !== 'none' && getComputedStyle(t).display !== 'none' && r.width > 0;
  const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
  const inside = r.left >= area.left && r.right <= area.right && r.top >= area.top && r.bottom <= area.bottom;
  out.push({ goal: g.classList.contains('goal'), text: t.textContent, shown: shown, px: px, inside: inside,
             box: [box.left, box.top, box.right, box.bottom] });
}
return out;
"""
_HEADER = """
const t = document.getElementById('title'), bar = document.getElementById('bar');
const right = Math.max(...[...bar.querySelectorAll('*')].map((e) => e.getBoundingClientRect().right));
return { text: t.textContent, tip: t.title, scrollWidth: t.scrollWidth, clientWidth: t.clientWidth,
         scrollHeight: t.scrollHeight, clientHeight: t.clientHeight,
         lineHeight: parseFloat(getComputedStyle(t).lineHeight),
         barScroll: bar.scrollWidth, barClient: bar.clientWidth, right: right, width: innerWidth };
"""


def _viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _overlapping(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes[:i])
            if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5]


def test_a_small_tree_is_readable_when_fitted(browser, tmp_path):
    """Issue 22.13: 89 goals after 4 expansions, at 1400x900, were blank pills at "fit" (the page drew 2,000
    px of rows at scale 0.34, labels hidden), and the header was cut at 1,400 px."""
    from selenium.webdriver.common.by import By

    record = sr_trace("htps", budget=4, theorem=1)
    assert len(record.nodes) == 89 and record.result["expansions"] == 4
    try:
        _viewport(browser, 1400, 900)
        browser.get(visualise(_write(tmp_path, record), tmp_path / "t.html").as_uri())
        for view in ("as opened", "after fit", "after fit, proof, fit"):
            if view == "after fit":
                browser.find_element(By.ID, "fit").click()
            elif view.endswith("proof, fit"):
                browser.find_element(By.ID, "proof").click()
                browser.find_element(By.ID, "fit").click()
            labels = browser.execute_script(_LABELS_SEEN)
            assert len(labels) == 89 + sum(e["outcome"] not in ("error", "timeout") for e in record.edges)
            unreadable = [(lb["text"], round(lb["px"], 1)) for lb in labels
                          if not (lb["shown"] and lb["px"] >= 8.5 and lb["inside"])]
            assert unreadable == [], f"{view}: {len(unreadable)} labels unreadable or out of view: {unreadable[:5]}"
            shown = sorted(int(lb["text"].split()[0].lstrip("#")) for lb in labels if lb["goal"])
            assert shown == sorted(n["id"] for n in record.nodes)  # every goal, by its label
            assert _overlapping([lb["box"] for lb in labels]) == []
        assert browser.save_screenshot(str(tmp_path / "small-tree.png"))  # to look at when it fails

        # the header wraps rather than being cut, and its full text is in the title's tooltip
        for width in (1400, 1000, 700, 480):
            _viewport(browser, width, 900)
            browser.get((tmp_path / "t.html").as_uri())
            header = browser.execute_script(_HEADER)
            assert header["text"].endswith("89 goals, 91 tactic applications, 4 expansions")
            assert header["tip"] == header["text"]
            assert header["scrollWidth"] <= header["clientWidth"], (width, header)
            assert header["scrollHeight"] <= header["clientHeight"], (width, header)  # no line hidden
            assert header["barScroll"] <= header["barClient"] and header["right"] <= width, (width, header)
        assert header["clientHeight"] >= 2 * header["lineHeight"]  # at 480 px it takes two lines

        # a title too long for two lines ends in an ellipsis, whole in the tooltip
        record.header["theorem_id"] = "a_theorem_with_a_very_long_name_" * 12
        browser.get(visualise(_write(tmp_path, record), tmp_path / "long.html").as_uri())
        header = browser.execute_script(_HEADER)
        assert header["tip"] == header["text"] and header["text"].startswith(record.header["theorem_id"])
        assert header["scrollWidth"] <= header["clientWidth"] and header["right"] <= 480
        assert header["clientHeight"] <= 2 * header["lineHeight"] + 1 < header["scrollHeight"]
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
