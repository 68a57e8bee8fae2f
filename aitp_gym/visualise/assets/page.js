// The visualiser's page script, inlined into every page by aitp_gym/visualise/page.py. It reads the trace data
// (data.tree_payload: the trace's columns plus `derived`) from the element #trace-data and builds the tree in
// SVG, the step slider, the side panel and the search box. Every text goes in with textContent, never as markup.
(function () {
'use strict';
const D = JSON.parse(document.getElementById('trace-data').textContent);
const N = D.nodes, E = D.edges, X = D.derived, H = D.header, R = D.result;
const nN = N.status.length, nE = E.parent.length, S = X.steps;
const NS = 'http://www.w3.org/2000/svg';
const ROW = 22, GW = 300, AW = 190, CH = 6.7, GMAX = 38, AMAX = 24, PRUNE_ABOVE = 1500;
const STATUS = { proved: 'proved', failed: 'failed', open: 'open (expanded)', exhausted: 'open, exhausted',
                 frontier: 'not expanded' };
const $ = (id) => document.getElementById(id);
const isError = (e) => E.outcome[e] === 'error' || E.outcome[e] === 'timeout';
const text = (n) => N.text[n].map((i) => D.lines[i]).join('\n');

function el(tag, attrs, content) {
  const x = document.createElement(tag);
  for (const k in attrs || {}) x.setAttribute(k, attrs[k]);
  if (content !== undefined && content !== null) x.textContent = String(content);
  return x;
}
function sv(tag, attrs) {
  const x = document.createElementNS(NS, tag);
  for (const k in attrs || {}) x.setAttribute(k, attrs[k]);
  return x;
}
function clip(s, n) {
  s = String(s);
  return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
}
function firstLine(s) {
  const lines = s.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter((l) => l);
  return (lines[0] || '') + (lines.length > 1 ? ' \u2026' : '');
}
function fmt(v) {
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(+v.toPrecision(4));
  }
  if (v === null || v === undefined) return '\u2014';
  return String(v);
}

// ------------------------------------------------------------------ structure: the spanning tree
const outEdges = Array.from({ length: nN }, () => []);
const errEdges = Array.from({ length: nN }, () => []);
for (let e = 0; e < nE; e++) (isError(e) ? errEdges : outEdges)[E.parent[e]].push(e);
const items = [];  // {k: 'g' goal | 'a' AND (edge) | 'r' reference to a goal drawn elsewhere, id, p, ch, lv, st}
const goalItem = new Int32Array(nN).fill(-1);
const andItem = new Int32Array(nE).fill(-1);
function add(k, id, p, lv, st) {
  const i = items.length;
  if (p >= 0) st = Math.max(st, items[p].st);
  items.push({ k: k, id: id, p: p, ch: [], lv: lv, st: st, x: 0, y: 0, el: null, vis: false, keep: true });
  if (p >= 0) items[p].ch.push(i);
  return i;
}
function grow(root) {
  const todo = [add('g', root, -1, 0, 0)];
  goalItem[root] = todo[0];
  while (todo.length) {
    const gi = todo.pop(), lv = items[gi].lv;
    for (const e of outEdges[items[gi].id]) {
      const ai = add('a', e, gi, lv, X.step[e]);
      andItem[e] = ai;
      for (const c of E.children[e]) {
        if (X.source[c] === e && goalItem[c] < 0) {
          const ci = add('g', c, ai, lv + 1, X.step[e]);
          goalItem[c] = ci;
          todo.push(ci);
        } else add('r', c, ai, lv + 1, X.step[e]);
      }
    }
  }
}
for (let n = 0; n < nN; n++) if (X.source[n] < 0 && goalItem[n] < 0) grow(n);
for (let n = 0; n < nN; n++) if (goalItem[n] < 0) grow(n);  // goals whose source is unreachable

const proofEdge = new Uint8Array(nE), proofNode = new Uint8Array(nN);
for (const e of X.proof_edges) {
  proofEdge[e] = 1;
  proofNode[E.parent[e]] = 1;
  for (const c of E.children[e]) proofNode[c] = 1;
}
// "Only expanded goals" keeps the goals that were expanded, proved or on the proof, the tactics leading to
// them, and references to expanded goals: the search's skeleton without its (often thousands of) leaves.
function markKept(prune) {
  for (let i = items.length - 1; i >= 0; i--) {  // children come after their parents
    const it = items[i];
    if (!prune || it.p < 0) it.keep = true;
    else if (it.k === 'g') it.keep = X.expand[it.id] >= 0 || N.status[it.id] === 'proved' || proofNode[it.id] === 1;
    else if (it.k === 'r') it.keep = X.expand[it.id] >= 0;
    else it.keep = !it.ch.length || it.ch.some((c) => items[c].keep);
  }
}

// ------------------------------------------------------------------ layout: leaves one row each, parents centred
// Each column of goals and each column of tactics is as wide as its widest box. The tactics tried on a goal
// that led nowhere further (a subgoal never expanded, a goal closed, a reference) are, when there are
// GRID_MIN or more, packed column by column into a framed grid under their goal, with as many columns as make
// the whole tree largest when fitted to the window: a search tries tens of tactics on every goal it expands,
// and one row for each made a small tree tall, narrow and, fitted to the window, too small to read. Tactics of
// the proof keep their own row and link.
// Elements are made when an item is first laid out, so hidden leaves of a large search cost nothing.
const GAP_FAN = 36, GAP_SUB = 16, CELL_GAP = 16, GRID_MIN = 6, GRID_ASPECTS = [1, 2, 4, 8, 16], PAD = 5;
let slot = 0, fans = [];
function keptKids(it) { return it.ch.filter((c) => items[c].keep); }
function inGrid(a) {
  const it = items[a];
  if (it.k !== 'a' || onProof(it)) return false;
  const kids = keptKids(it);
  return kids.length <= 1 && kids.every((c) => !keptKids(items[c]).length);
}
function placeGrid(gi, x0, aspect) {
  const cells = items[gi].grid;
  let pw = 0, cw = 0;
  for (const a of cells) {
    pw = Math.max(pw, items[a].w);
    for (const c of keptKids(items[a])) cw = Math.max(cw, items[c].w);
  }
  const width = pw + (cw ? GAP_SUB + cw : 0) + CELL_GAP;
  const cols = Math.max(1, Math.round(Math.sqrt(cells.length * ROW * aspect / width)));
  const rows = Math.ceil(cells.length / cols), first = slot;
  slot += rows;
  cells.forEach((a, j) => {
    const it = items[a];
    it.x = x0 + Math.floor(j / rows) * width;
    it.y = ROW * (first + j % rows);
    for (const c of it.ch) { items[c].x = it.x + pw + GAP_SUB; items[c].y = it.y; }
  });
  fans.push({ goal: gi, x: x0 - PAD, y: ROW * first - ROW / 2 + 1, h: rows * ROW - 2, el: null,
              w: Math.ceil(cells.length / rows) * width - CELL_GAP + 2 * PAD,
              st: Math.min(...cells.map((a) => items[a].st)) });
  return [ROW * first, ROW * (first + rows - 1)];
}
function place(aspect) {  // positions (x, y of every kept item) and grids; the tree's width and height
  slot = 0;
  fans = [];
  for (const it of items) { it.grid = null; it.cell = false; }
  for (const it of items) {
    if (it.k !== 'g' || !it.keep) continue;
    const cells = it.ch.filter((a) => items[a].keep && inGrid(a));
    if (cells.length < GRID_MIN) continue;
    it.grid = cells;
    for (const a of cells) { items[a].cell = true; for (const c of items[a].ch) items[c].cell = true; }
  }
  // the columns: goals of level l at gx[l], the tactics on them at ax[l]
  const gw = [], aw = [], gx = [0], ax = [];
  let levels = 0, width = 0;
  for (const it of items) {
    if (!it.keep || it.cell) continue;
    const w = it.k === 'a' ? aw : gw;
    w[it.lv] = Math.max(w[it.lv] || 0, it.w);
    levels = Math.max(levels, it.lv + 1);
  }
  for (let l = 0; l < levels; l++) {
    ax[l] = gx[l] + (gw[l] || 0) + GAP_FAN;
    gx[l + 1] = ax[l] + (aw[l] || 0) + GAP_SUB;
  }
  const stack = [];
  for (let i = items.length - 1; i >= 0; i--) if (items[i].p < 0) stack.push([i, false]);
  while (stack.length) {
    const top = stack.pop(), it = items[top[0]];
    const kids = it.ch.filter((c) => items[c].keep && !items[c].cell);
    if (!top[1] && kids.length) {
      stack.push([top[0], true]);
      for (let j = kids.length - 1; j >= 0; j--) stack.push([kids[j], false]);
      continue;
    }
    let y0 = Infinity, y1 = -Infinity;
    if (kids.length) { y0 = items[kids[0]].y; y1 = items[kids[kids.length - 1]].y; }
    if (it.grid) {
      const ys = placeGrid(top[0], ax[it.lv], aspect);
      y0 = Math.min(y0, ys[0]);
      y1 = Math.max(y1, ys[1]);
    }
    it.y = y0 <= y1 ? (y0 + y1) / 2 : ROW * slot++;
    it.x = it.k === 'a' ? ax[it.lv] : gx[it.lv];
    width = Math.max(width, it.x + it.w);
  }
  for (const f of fans) width = Math.max(width, f.x + f.w);
  return [width, slot * ROW];
}
function layout() {
  const [w, h] = size();
  let best = GRID_ASPECTS[0], bestScale = 0;
  for (const aspect of GRID_ASPECTS) {
    const [tw, th] = place(aspect), scale = Math.min((w - 40) / tw, (h - 40) / th);
    if (scale > bestScale * 1.01) { best = aspect; bestScale = scale; }
  }
  place(best);
  const frag = document.createDocumentFragment();
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (!it.keep) continue;
    if (!it.el) frag.appendChild(draw(i));
    it.el.setAttribute('transform', 'translate(' + it.x + ',' + it.y + ')');
    if (it.p >= 0) {
      const pa = items[it.p], sx = pa.x + pa.w - it.x, sy = pa.y - it.y, m = sx / 2;
      it.el.firstChild.setAttribute('d', it.cell && it.k === 'a' ? 'M0,0' :
        'M' + sx + ',' + sy + 'C' + m + ',' + sy + ' ' + m + ',0 0,0');
    }
  }
  view.appendChild(frag);
  back.replaceChildren();
  for (const f of fans) {  // the grid's frame, linked to its goal
    const pa = items[f.goal], sx = pa.x + pa.w, sy = pa.y, ey = f.y + f.h / 2, m = (sx + f.x) / 2;
    f.el = sv('g', { class: 'fan' });
    const d = 'M' + sx + ',' + sy + 'C' + m + ',' + sy + ' ' + m + ',' + ey + ' ' + f.x + ',' + ey;
    f.el.appendChild(sv('path', { d: d }));
    f.el.appendChild(sv('rect', { x: f.x, y: f.y, width: f.w, height: f.h }));
    back.appendChild(f.el);
  }
}

// ------------------------------------------------------------------ drawing
const svg = $('tree'), view = $('viewport');
const back = view.appendChild(sv('g', { id: 'fans' }));  // the grids' frames, under the tree
function labelOf(it) {
  if (it.k === 'g') {
    const bad = errEdges[it.id].length ? ' \u2717' + errEdges[it.id].length : '';
    return clip('#' + N.id[it.id] + ' ' + firstLine(text(it.id)), GMAX - bad.length) + bad;
  }
  if (it.k === 'a') return (E.outcome[it.id] === 'proved' || !E.children[it.id].length ? '\u2713 ' : '') +
                           clip(E.tactic[it.id], AMAX);
  return (E.cycle[items[it.p].id] ? '\u27f2 #' : '\u21aa #') + N.id[it.id];
}
function onProof(it) {
  if (it.k === 'a') return proofEdge[it.id] === 1;
  if (it.k === 'g') return proofNode[it.id] === 1 && (it.p < 0 || proofEdge[items[it.p].id] === 1);
  return proofEdge[items[it.p].id] === 1;
}
for (const it of items) {
  it.label = labelOf(it);
  it.w = it.k === 'r' ? it.label.length * CH : Math.min(it.k === 'a' ? AW - 24 : GW - 28, it.label.length * CH + 12);
}
function draw(i) {
  const it = items[i];
  let cls = 'item ' + (it.k === 'g' ? 'goal' : it.k === 'a' ? 'and' : 'ref');
  if (it.k === 'a' && !E.children[it.id].length) cls += ' closes';
  if (it.k === 'r' && E.cycle[items[it.p].id]) cls += ' cycle';
  if (onProof(it)) cls += ' proof';
  const g = sv('g', { class: cls, 'data-i': i });
  if (it.k === 'g') g.setAttribute('data-node', it.id);
  if (it.k === 'a') g.setAttribute('data-edge', it.id);
  if (it.p >= 0) g.appendChild(sv('path', { class: 'link' }));
  if (it.k !== 'r') g.appendChild(sv('rect', { x: 0, y: -ROW / 2 + 2, width: it.w, height: ROW - 4 }));
  const t = sv('text', { x: it.k === 'r' ? 2 : 6, y: 0 });
  t.textContent = it.label;
  g.appendChild(t);
  it.el = g;
  it.vis = true;
  return g;
}
const pruneBox = $('prune');
pruneBox.checked = nN > PRUNE_ABOVE;
markKept(pruneBox.checked);
layout();

// ------------------------------------------------------------------ pan and zoom
// "fit" shows the whole tree if it fits at a readable scale (READABLE: 11 px labels at 8.8 px or more).
// Otherwise it shows the tree at that scale from its root side, and a second "fit" shows it whole, however
// small; the wheel zooms anywhere from 0.005 to 4.
const READABLE = 0.8;
let tx = 0, ty = 0, sc = 1, capped = false;
function apply(keepCap) {
  view.setAttribute('transform', 'translate(' + tx + ',' + ty + ') scale(' + sc + ')');
  svg.classList.toggle('far', sc < 0.4);
  if (!keepCap) capped = false;
  $('fit').title = capped ? 'show the whole tree (smaller than readable)' : 'show the whole tree (at a readable ' +
    'scale if it is too large: click again for all of it)';
}
function size() { const r = svg.getBoundingClientRect(); return [r.width || 800, r.height || 600]; }
function fitItems(list, maxScale, whole) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const it of list) {
    x0 = Math.min(x0, it.x); x1 = Math.max(x1, it.x + (it.w || 0));
    y0 = Math.min(y0, it.y - ROW / 2); y1 = Math.max(y1, it.y + ROW / 2);
  }
  if (!(x0 <= x1)) return;
  const [w, h] = size();
  const fit = Math.max(0.005, Math.min(maxScale, (w - 40) / Math.max(1, x1 - x0), (h - 40) / Math.max(1, y1 - y0)));
  const cap = !whole && fit < READABLE;
  sc = cap ? READABLE : fit;
  // centred; a side that does not fit starts at the root's side (left), and at the first item's row (the root)
  tx = (x1 - x0) * sc <= w - 40 ? (w - (x1 - x0) * sc) / 2 - x0 * sc : 20 - x0 * sc;
  ty = (y1 - y0) * sc <= h - 40 ? (h - (y1 - y0) * sc) / 2 - y0 * sc
    : Math.max(h - 20 - y1 * sc, Math.min(20 - y0 * sc, h / 2 - list[0].y * sc));
  capped = cap;
  apply(true);
}
function centreOn(it, scale) {
  const [w, h] = size();
  if (scale) sc = scale; else if (sc < 0.6) sc = 1;
  tx = w / 2 - (it.x + it.w / 2) * sc;
  ty = h / 2 - it.y * sc;
  apply();
}
let drag = null;
svg.addEventListener('pointerdown', (ev) => {
  drag = { x: ev.clientX, y: ev.clientY, tx: tx, ty: ty, moved: false };
});
window.addEventListener('pointermove', (ev) => {
  if (!drag) return;
  const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
  if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) { drag.moved = true; svg.classList.add('dragging'); }
  if (drag.moved) { tx = drag.tx + dx; ty = drag.ty + dy; apply(); }
});
window.addEventListener('pointerup', () => {
  svg.classList.remove('dragging');
  if (drag && drag.moved) drag.justMoved = true;
  setTimeout(() => { drag = null; }, 0);
});
svg.addEventListener('wheel', (ev) => {
  ev.preventDefault();
  const r = svg.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
  const ns = Math.max(0.005, Math.min(4, sc * Math.exp(-ev.deltaY * 0.0015)));
  tx = mx - (mx - tx) * ns / sc;
  ty = my - (my - ty) * ns / sc;
  sc = ns;
  apply();
}, { passive: false });

// ------------------------------------------------------------------ replay
let step = S;
const slider = $('step');
slider.max = String(S);
slider.value = String(S);
function statusAt(n, k) {
  if (k >= S) {
    const s = N.status[n];
    if (s === 'proved' || s === 'failed') return s;
    if (!outEdges[n].length && !errEdges[n].length) return 'frontier';
    return N.exhausted[n] ? 'exhausted' : 'open';
  }
  if (X.proved_at[n] >= 0 && X.proved_at[n] <= k) return 'proved';
  return X.expand[n] >= 0 && X.expand[n] <= k ? 'open' : 'frontier';
}
let current = null;
function setStep(k) {
  step = k;
  for (const it of items) {
    if (!it.el) continue;
    const vis = it.keep && it.st <= k;
    if (vis !== it.vis) { it.vis = vis; it.el.style.display = vis ? '' : 'none'; }
    if (it.k === 'g') {
      const s = statusAt(it.id, k);
      if (it.el.getAttribute('data-s') !== s) it.el.setAttribute('data-s', s);
    }
  }
  for (const f of fans) f.el.style.display = items[f.goal].vis && f.st <= k ? '' : 'none';
  if (current) current.el.classList.remove('cur');
  current = null;
  const n = X.step_node[k];
  if (k > 0 && n >= 0 && goalItem[n] >= 0 && items[goalItem[n]].el) {
    current = items[goalItem[n]];
    current.el.classList.add('cur');
  }
  $('steplabel').textContent = k + ' / ' + S + (k > 0 && n >= 0 ? '  expanded #' + N.id[n] : '  (the root)');
}
slider.addEventListener('input', () => { stopPlay(); setStep(+slider.value); });
let timer = null;
function stopPlay() { if (timer) { clearInterval(timer); timer = null; $('play').textContent = '\u25b6'; } }
$('play').addEventListener('click', () => {
  if (timer) return stopPlay();
  if (step >= S) setStep(0);
  slider.value = String(step);
  $('play').textContent = '\u25a0';
  timer = setInterval(() => {
    if (step >= S) return stopPlay();
    setStep(step + 1);
    slider.value = String(step);
  }, Math.max(40, Math.min(400, 12000 / Math.max(1, S))));
});

// ------------------------------------------------------------------ side panel
const panel = $('panel');
let selected = null;
function nodeLink(n) {
  const b = el('button', { type: 'button', class: 'link', 'data-goto': 'g' + n }, '#' + N.id[n]);
  return b;
}
function edgeLink(e) {
  return el('button', { type: 'button', class: 'link', 'data-goto': 'a' + e }, 'edge ' + E.id[e]);
}
function nodeLinks(list, into) {
  list.forEach((c, j) => {
    if (j) into.appendChild(document.createTextNode(' '));
    into.appendChild(nodeLink(c));
  });
  return into;
}
function kvTable(rows) {
  const t = el('table');
  for (const [k, v] of rows) {
    const tr = el('tr');
    tr.appendChild(el('td', { class: 'k' }, k));
    const td = el('td', typeof v === 'number' ? { class: 'num' } : {});
    if (v instanceof Node) td.appendChild(v); else td.textContent = fmt(v);
    tr.appendChild(td);
    t.appendChild(tr);
  }
  return t;
}
function valueView(v) {
  if (Array.isArray(v) && v.length && v.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    const cols = [];
    for (const r of v) for (const k in r) if (!cols.includes(k)) cols.push(k);
    const t = el('table'), head = el('tr');
    for (const c of cols) head.appendChild(el('th', {}, c));
    t.appendChild(head);
    for (const r of v) {
      const tr = el('tr');
      for (const c of cols) {
        const td = el('td', typeof r[c] === 'number' ? { class: 'num' } : {});
        if (c === 'edge' && Number.isInteger(r[c]) && r[c] >= 0 && r[c] < nE) td.appendChild(edgeLink(r[c]));
        else td.textContent = typeof r[c] === 'object' && r[c] !== null ? JSON.stringify(r[c]) : fmt(r[c]);
        tr.appendChild(td);
      }
      t.appendChild(tr);
    }
    return t;
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (!keys.length) return document.createTextNode('{}');
    return kvTable(keys.map((k) => [k, v[k] && typeof v[k] === 'object' ? valueView(v[k]) : v[k]]));
  }
  if (Array.isArray(v)) {
    return document.createTextNode('[' + v.map((x) => x && typeof x === 'object' ? JSON.stringify(x) : fmt(x))
      .join(', ') + ']');
  }
  return document.createTextNode(fmt(v));
}
function section(title, content) {
  panel.appendChild(el('h3', {}, title));
  panel.appendChild(content);
}
function badge(s) {
  const b = el('span', { class: 'badge' }, STATUS[s] || s);
  b.style.setProperty('--c', 'var(--' + s + ')');
  return b;
}
function edgeRows(list) {
  const t = el('table'), head = el('tr');
  for (const c of ['edge', 'tactic', 'outcome', 'log p', 'subgoals', 'step']) head.appendChild(el('th', {}, c));
  t.appendChild(head);
  for (const e of list) {
    const tr = el('tr');
    const first = el('td');
    first.appendChild(isError(e) ? document.createTextNode(String(E.id[e])) : edgeLink(e));
    tr.appendChild(first);
    tr.appendChild(el('td', {}, E.tactic[e]));
    const why = E.message[e] ? ': ' + clip(E.message[e], 80) : '';
    tr.appendChild(el('td', { title: E.message[e] }, E.outcome[e] + why));
    tr.appendChild(el('td', { class: 'num' }, fmt(E.logprob[e])));
    tr.appendChild(nodeLinks(E.children[e], el('td')));
    tr.appendChild(el('td', { class: 'num' }, X.step[e]));
    t.appendChild(tr);
  }
  return t;
}
const statsTitle = 'planner statistics (' + (H.planner || '?') + ')';
function showGoal(n) {
  panel.replaceChildren();
  const h = el('h2', {}, 'goal #' + N.id[n] + ' ');
  h.appendChild(badge(statusAt(n, S)));
  panel.appendChild(h);
  section('goal', el('pre', {}, text(n)));
  const src = X.source[n];
  section('search', kvTable([
    ['status', N.status[n]], ['depth', N.depth[n]], ['exhausted', N.exhausted[n] ? 'yes' : 'no'],
    ['appeared at step', items[goalItem[n]].st],
    ['first expanded at step', X.expand[n] >= 0 ? X.expand[n] : 'never'],
    ['proved at step', X.proved_at[n] >= 0 ? X.proved_at[n] : '\u2014'],
    ['on the proof', proofNode[n] ? 'yes' : 'no'],
    ['produced by', src >= 0 ? edgeLink(src) : '(root)'],
  ]));
  if (N.stats[n] !== null && N.stats[n] !== undefined) section(statsTitle, valueView(N.stats[n]));
  const all = outEdges[n].concat(errEdges[n]).sort((a, b) => a - b);
  if (all.length) section('tactics tried (' + all.length + ', ' + errEdges[n].length + ' failed)', edgeRows(all));
}
function showEdge(e) {
  panel.replaceChildren();
  panel.appendChild(el('h2', {}, 'tactic application (edge ' + E.id[e] + ')'));
  section('tactic', el('pre', {}, E.tactic[e]));
  const kids = nodeLinks(E.children[e], el('span'));
  if (!E.children[e].length) kids.textContent = 'none: closes the goal';
  const lp = E.logprob[e];
  section('application', kvTable([
    ['on goal', nodeLink(E.parent[e])], ['outcome', E.outcome[e]], ['subgoals', kids],
    ['log-prob', lp], ['prob', typeof lp === 'number' ? Math.exp(lp) : null], ['step', X.step[e]],
    ['time (s since start)', E.t[e]], ['elapsed (s)', E.elapsed[e]], ['cycle', E.cycle[e] ? 'yes' : 'no'],
    ['on the proof', proofEdge[e] ? 'yes' : 'no'],
  ]));
  if (E.message[e]) section('message', el('pre', {}, E.message[e]));
  const ps = N.stats[E.parent[e]];
  if (ps && Array.isArray(ps.edges)) {
    const mine = ps.edges.find((r) => r && r.edge === E.id[e]);
    if (mine) section(statsTitle, valueView(mine));
  }
  section('goal', el('pre', {}, text(E.parent[e])));
}
function showOverview() {
  panel.replaceChildren();
  panel.appendChild(el('h2', {}, H.theorem_id || 'trace'));
  if (H.statement) section('statement', el('pre', {}, H.statement));
  section('result', kvTable(Object.keys(R).filter((k) => typeof R[k] !== 'object' || R[k] === null)
    .map((k) => [k, R[k]])));
  if (Array.isArray(R.proof_script)) section('proof script', el('pre', {}, R.proof_script.join('\n')));
  section('search', kvTable([['env', H.env_id], ['planner', H.planner], ['policy', H.policy], ['critic', H.critic],
    ['goals', nN], ['tactic applications', nE], ['expansion steps', S], ['trace version', D.version]]));
  if (H.settings) section('planner settings', valueView(H.settings));
  const rest = {};
  const shown = ['theorem_id', 'statement', 'settings', 'env_id', 'planner', 'policy', 'critic'];
  for (const k in H) if (!shown.includes(k)) rest[k] = H[k];
  section('header', valueView(rest));
  panel.appendChild(el('p', {}, 'Click a goal or a tactic for its details; drag to pan, wheel to zoom.'));
}
function select(i, centre) {
  if (selected !== null) items[selected].el.classList.remove('sel');
  selected = i;
  if (i === null) return showOverview();
  const it = items[i];
  if (!it.keep) { pruneBox.checked = false; relayout(); }
  it.el.classList.add('sel');
  if (it.k === 'a') showEdge(it.id); else showGoal(it.id);
  if (centre) {
    if (!it.vis) { setStep(S); slider.value = String(S); }
    centreOn(it);
  }
}
panel.addEventListener('click', (ev) => {
  const b = ev.target.closest('[data-goto]');
  if (!b) return;
  const v = b.getAttribute('data-goto'), id = +v.slice(1);
  select(v[0] === 'g' ? goalItem[id] : andItem[id], true);
});
svg.addEventListener('click', (ev) => {
  if (drag && drag.justMoved) return;
  const g = ev.target.closest('g.item');
  if (!g) return select(null);
  const it = items[+g.getAttribute('data-i')];
  if (it.k === 'r') return select(goalItem[it.id], true);
  select(+g.getAttribute('data-i'), false);
});

// ------------------------------------------------------------------ tooltip
const tip = $('tip');
svg.addEventListener('mouseover', (ev) => {
  const g = ev.target.closest('g.item');
  if (!g) { tip.hidden = true; return; }
  const it = items[+g.getAttribute('data-i')];
  tip.textContent = it.k === 'a'
    ? E.tactic[it.id] + '\n' + E.outcome[it.id] + ', log p ' + fmt(E.logprob[it.id])
    : '#' + N.id[it.id] + ' ' + (STATUS[statusAt(it.id, step)] || '') + '\n' + clip(text(it.id), 600);
  tip.hidden = false;
});
svg.addEventListener('mousemove', (ev) => {
  tip.style.left = Math.min(window.innerWidth - 490, ev.clientX + 14) + 'px';
  tip.style.top = (ev.clientY + 14) + 'px';
});
svg.addEventListener('mouseleave', () => { tip.hidden = true; });

// ------------------------------------------------------------------ find
let lastHit = null, hitFrom = -1;
$('find').addEventListener('keydown', (ev) => {
  if (ev.key !== 'Enter') return;
  const q = ev.target.value.trim().toLowerCase();
  if (lastHit) lastHit.el.classList.remove('hit');
  lastHit = null;
  if (!q) return;
  const byId = /^#?\d+$/.test(q) ? +q.replace('#', '') : null;
  for (let j = 1; j <= nN; j++) {
    const n = (hitFrom + j) % nN;
    if (byId !== null ? N.id[n] === byId : text(n).toLowerCase().includes(q)) {
      hitFrom = n;
      lastHit = items[goalItem[n]];
      lastHit.el.classList.add('hit');
      select(goalItem[n], true);
      return;
    }
  }
});

// ------------------------------------------------------------------ header, buttons, start
{
  const t = $('title');
  t.textContent = (H.theorem_id || 'trace') + ' \u00b7 ' + (H.planner || '?') + ' on ' + (H.env_id || '?') +
    ' \u00b7 ' + (R.proved ? 'proved' : 'not proved' + (R.stop_reason ? ' (' + R.stop_reason + ')' : '')) + ' \u00b7 ' +
    nN + ' goals, ' + nE + ' tactic applications, ' + S + ' expansions';
  t.title = t.textContent;
  const legend = $('legend');
  for (const s of ['proved', 'failed', 'open', 'exhausted', 'frontier']) {
    const span = el('span', {}, STATUS[s]);
    span.style.setProperty('--c', 'var(--' + s + ')');
    legend.appendChild(span);
  }
  const p = el('span', {}, 'proof');
  p.style.setProperty('--c', 'var(--proof)');
  legend.appendChild(p);
}
let kept = items.filter((it) => it.keep);
function relayout() {
  markKept(pruneBox.checked);
  layout();
  setStep(step);
  kept = items.filter((it) => it.keep);
}
pruneBox.addEventListener('change', () => {
  relayout();
  fitItems(kept, 1.2);
});
$('fit').addEventListener('click', () => fitItems(kept, 1.5, capped));
$('root').addEventListener('click', () => select(goalItem[0], true));
const proofItems = items.filter(onProof);
$('proof').disabled = !proofItems.length;
$('proof').addEventListener('click', () => fitItems(proofItems, 1.2));
setStep(S);
showOverview();
fitItems(kept, 1.2);  // the whole tree if it fits at a readable scale, else the root's side of it
document.body.setAttribute('data-ready', String(items.length));
})();
