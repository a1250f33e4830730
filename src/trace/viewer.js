// corio's offline trace viewer: reads the JSON element written by
// src/trace/html.rs and draws it on the canvas. Indexes are built once;
// each frame touches only the rows and the time range in view.
"use strict";
(function () {
  const loadBegan = performance.now();
  const data = JSON.parse(document.getElementById("corio-trace").textContent);
  const SPAWN = 0, RESUME = 1, SUSPEND_FIRST = 2, SUSPEND_LAST = 10;
  const WAKE_TASK = 11, WAKE_LAST = 15, POLL = 16, FINISH = 17;
  const ROW_H = 18, AXIS_H = 22, LABEL_W = 190, MAX_ARROWS = 1500;
  // Colour of a run by how it ended (kind number), and of wake-up arrows.
  const COLOR = {
    2: "#7b8fa6", 3: "#2e9d5b", 4: "#1f7a8c", 5: "#8e63b8", 6: "#e08a1e",
    7: "#1aa3a3", 8: "#d0413c", 9: "#8c6d46", 10: "#d36ba6",
    11: "#444", 12: "#2e9d5b", 13: "#8e63b8", 14: "#8c6d46", 15: "#777",
    16: "#b9c2cc", 17: "#333",
  };
  const kinds = data.kinds, tasks = data.tasks;
  const n = data.kind.length, rowCount = tasks.length;
  const status = document.getElementById("status");
  const canvas = document.getElementById("timeline");
  const tip = document.getElementById("tip");
  const ctx = canvas.getContext("2d");

  for (const span of document.querySelectorAll("header span[class^='k']")) {
    span.style.setProperty("--swatch", COLOR[+span.className.slice(1)] || "#999");
  }

  function label(row) {
    const [id, name] = tasks[row];
    if (id === 0) return "scheduler (polls)";
    return name === null ? "task " + id : "task " + id + " '" + name + "'";
  }
  function reason(kind, arg) {
    if (kind === 3 || kind === 4) return kinds[kind] + " #" + arg;
    return kinds[kind];
  }
  function fmt(ns) {
    const a = Math.abs(ns);
    if (a < 1e3) return ns.toFixed(0) + " ns";
    if (a < 1e6) return (ns / 1e3).toFixed(a < 1e4 ? 2 : 1) + " µs";
    if (a < 1e9) return (ns / 1e6).toFixed(a < 1e7 ? 2 : 1) + " ms";
    return (ns / 1e9).toFixed(3) + " s";
  }

  // ---- Indexes, built once. Times are ns since the first event. ----
  const at = new Float64Array(n);
  for (let i = 0, t = 0; i < n; i++) { t += data.dt[i]; at[i] = t; }
  const span = n ? at[n - 1] : 1;
  // Per row: runs (start, end, how it ended, its argument) and the wait
  // that followed each run (when and by what it was woken).
  const counts = new Uint32Array(rowCount);
  for (let i = 0; i < n; i++) {
    const k = data.kind[i];
    if ((k >= SUSPEND_FIRST && k <= SUSPEND_LAST) || k === FINISH || k === POLL) {
      counts[k === POLL ? 0 : data.task[i]]++;
    }
  }
  const rows = [];
  for (let r = 0; r < rowCount; r++) {
    const c = counts[r] + 1; // +1: a run still open when the trace ends
    rows.push({
      len: 0, start: new Float64Array(c), end: new Float64Array(c),
      kind: new Uint8Array(c), arg: new Float64Array(c),
      wakeAt: new Float64Array(c).fill(-1), wakeKind: new Uint8Array(c),
      wakeBy: new Int32Array(c), spawnedAt: -1, parent: -1,
    });
  }
  const openAt = new Float64Array(rowCount).fill(-1);
  // Arrows: from (fromAt, fromRow) to (toAt, toRow); toAt is set by the run
  // the wake-up caused. Sorted by fromAt because events are in time order.
  const arrows = { fromAt: [], fromRow: [], toAt: [], toRow: [], kind: [] };
  const pendingArrow = new Int32Array(rowCount).fill(-1);
  let polls = 0;
  for (let i = 0; i < n; i++) {
    const k = data.kind[i], r = data.task[i], t = at[i];
    if (k === RESUME) {
      openAt[r] = t;
      const a = pendingArrow[r];
      if (a >= 0) { arrows.toAt[a] = t; pendingArrow[r] = -1; }
    } else if ((k >= SUSPEND_FIRST && k <= SUSPEND_LAST) || k === FINISH) {
      const row = rows[r];
      // A run whose resume the full ring dropped starts at the trace's start.
      const s = openAt[r] >= 0 ? openAt[r] : (row.len === 0 ? 0 : -1);
      if (s >= 0) {
        row.start[row.len] = s; row.end[row.len] = t;
        row.kind[row.len] = k; row.arg[row.len] = data.arg[i]; row.len++;
      }
      openAt[r] = -1;
    } else if (k >= WAKE_TASK && k <= WAKE_LAST) {
      const row = rows[r];
      if (row.len > 0) {
        row.wakeAt[row.len - 1] = t; row.wakeKind[row.len - 1] = k;
        row.wakeBy[row.len - 1] = k === WAKE_TASK ? data.arg[i] : 0;
      }
      pendingArrow[r] = arrows.fromAt.length;
      arrows.fromAt.push(t); arrows.fromRow.push(k === WAKE_TASK ? data.arg[i] : 0);
      arrows.toAt.push(-1); arrows.toRow.push(r); arrows.kind.push(k);
    } else if (k === POLL) {
      const row = rows[0], waited = data.waited[polls++];
      row.start[row.len] = Math.max(0, t - waited); row.end[row.len] = t;
      row.kind[row.len] = POLL; row.arg[row.len] = data.arg[i];
      row.wakeAt[row.len] = waited; row.len++;
    } else if (k === SPAWN) {
      rows[r].spawnedAt = t; rows[r].parent = data.arg[i];
    }
  }
  for (let r = 1; r < rowCount; r++) {
    if (openAt[r] >= 0) {
      const row = rows[r];
      row.start[row.len] = openAt[r]; row.end[row.len] = span;
      row.kind[row.len] = 0; row.len++;
    }
  }
  // Stalls: per row, [start, end, report], drawn as red frames.
  const stallsOf = new Map();
  for (const [r, s, held, report] of data.stalls || []) {
    if (!stallsOf.has(r)) stallsOf.set(r, []);
    stallsOf.get(r).push([s, s + held, report]);
  }
  // Arrows that never landed (the trace ended first) point at its end.
  const arrowCount = arrows.fromAt.length;
  const arrowFrom = Float64Array.from(arrows.fromAt);
  const arrowTo = Float64Array.from(arrows.toAt, (t) => (t < 0 ? span : t));
  // The same arrows ordered by where they land, for those that start
  // left of the view and land in it.
  const byTo = Uint32Array.from({ length: arrowCount }, (_, i) => i)
    .sort((a, b) => arrowTo[a] - arrowTo[b]);
  const byToAt = Float64Array.from(byTo, (i) => arrowTo[i]);

  // First index in sorted `a` (first `len` entries) with a[i] >= x.
  function lowerBound(a, len, x) {
    let lo = 0, hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // ---- The view: time range and first row. ----
  let t0 = 0, t1 = span > 0 ? span : 1, top = 0, width = 0, height = 0;
  function plotW() { return Math.max(1, width - LABEL_W); }
  function x(t) { return LABEL_W + ((t - t0) / (t1 - t0)) * plotW(); }
  function timeAt(px) { return t0 + ((px - LABEL_W) / plotW()) * (t1 - t0); }
  function visibleRows() { return Math.ceil((height - AXIS_H) / ROW_H); }
  function clampTop() {
    top = Math.max(0, Math.min(top, rowCount - Math.max(1, visibleRows() - 1)));
  }
  function resetView() {
    t0 = -span * 0.01; t1 = span * 1.01 || 1; top = 0;
  }
  resetView();
  // A view to open at, from the address: #view=FROM_NS,TO_NS[,FIRST_ROW]
  // (nanoseconds since the first event), for a link or a screenshot.
  const asked = /view=(-?[\d.]+),(-?[\d.]+)(?:,(\d+))?/.exec(location.hash);
  if (asked && +asked[2] > +asked[1]) {
    t0 = +asked[1]; t1 = +asked[2]; top = asked[3] ? +asked[3] : 0;
  }
  let loadMs = -1;

  function resize() {
    const box = canvas.parentElement.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    width = box.width; height = box.height;
    canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    clampTop();
    redraw();
  }

  // ---- Drawing. ----
  let pending = false;
  function redraw() {
    if (!pending) { pending = true; requestAnimationFrame(draw); }
  }
  function draw() {
    pending = false;
    const began = performance.now();
    ctx.clearRect(0, 0, width, height);
    ctx.font = "12px system-ui, sans-serif";
    const first = Math.floor(top), last = Math.min(rowCount, first + visibleRows() + 1);
    const pxNs = (t1 - t0) / plotW();
    let marks = 0;
    for (let r = first; r < last; r++) {
      const y = AXIS_H + (r - top) * ROW_H;
      if (r % 2 === 0) { ctx.fillStyle = "#f0f2f5"; ctx.fillRect(LABEL_W, y, width, ROW_H); }
      const row = rows[r];
      ctx.save();
      ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, plotW(), height - AXIS_H); ctx.clip();
      if (row.spawnedAt >= 0 && row.spawnedAt >= t0 && row.spawnedAt <= t1) {
        const sx = x(row.spawnedAt);
        ctx.fillStyle = "#555";
        ctx.beginPath(); ctx.moveTo(sx, y + 3); ctx.lineTo(sx + 4, y + 3);
        ctx.lineTo(sx, y + 8); ctx.fill();
      }
      // The first run that ends in view; runs do not overlap in a row, so
      // their ends are sorted as their starts are.
      let i = lowerBound(row.end, row.len, t0);
      while (i < row.len && row.start[i] <= t1) {
        const x0 = x(row.start[i]);
        // Everything that starts within this pixel merges into one mark.
        let j = i + 1;
        if (x(row.end[i]) - x0 < 1) {
          j = Math.max(i + 1, lowerBound(row.start, row.len, row.start[i] + pxNs));
        }
        const x1 = Math.max(x(row.end[j - 1]), x0 + 1);
        ctx.fillStyle = COLOR[row.kind[i]] || "#333";
        ctx.fillRect(x0, y + 3, x1 - x0, ROW_H - 6);
        marks++;
        // The wait after the last run merged here, if it is visible.
        if (j < row.len && r > 0) {
          const w1 = x(row.start[j]);
          if (w1 - x1 >= 2) {
            ctx.fillStyle = COLOR[row.kind[j - 1]] || "#999";
            ctx.globalAlpha = 0.45;
            ctx.fillRect(x1, y + ROW_H / 2 - 1, Math.min(w1, width) - x1, 2);
            ctx.globalAlpha = 1;
          }
        }
        i = j;
      }
      for (const [s, e] of stallsOf.get(r) || []) {
        if (e < t0 || s > t1) continue;
        ctx.strokeStyle = "#d0021b"; ctx.lineWidth = 2;
        ctx.strokeRect(x(s), y + 1, Math.max(x(e) - x(s), 2), ROW_H - 2);
      }
      ctx.restore();
    }
    const drawnArrows = drawArrows(first, last);
    drawLabels(first, last);
    drawAxis();
    const ms = (performance.now() - began).toFixed(1);
    if (loadMs < 0) loadMs = performance.now() - loadBegan;
    status.textContent =
      "loaded in " + loadMs.toFixed(0) + " ms · " + n.toLocaleString("en-US") + " events, " + (rowCount - 1).toLocaleString("en-US") + " tasks · view " + fmt(t0) + " – " + fmt(t1) +
      " (" + fmt(t1 - t0) + ") · rows " + (first + 1) + "–" + last + " of " + rowCount +
      " · " + marks + " marks" + drawnArrows + " · drawn in " + ms + " ms";
  }

  function drawArrows(first, last) {
    // The arrows that start in view, and those that start left of it and
    // land in it.
    const inView = [];
    const a0 = lowerBound(arrowFrom, arrowCount, t0);
    const a1 = lowerBound(arrowFrom, arrowCount, t1);
    const b0 = lowerBound(byToAt, arrowCount, t0);
    const b1 = lowerBound(byToAt, arrowCount, t1);
    if (a1 - a0 + (b1 - b0) > MAX_ARROWS * 4) {
      return " · " + (a1 - a0) + " wake-ups in view (zoom in for arrows)";
    }
    const rowShown = (r) => r >= first && r < last;
    const shown = (a) => rowShown(arrows.toRow[a]) || rowShown(arrows.fromRow[a]);
    for (let a = a0; a < a1; a++) {
      if (shown(a)) inView.push(a);
    }
    for (let b = b0; b < b1; b++) {
      const a = byTo[b];
      if (arrowFrom[a] < t0 && shown(a)) inView.push(a);
    }
    if (inView.length > MAX_ARROWS) {
      return " · " + inView.length + " wake-ups in view (zoom in for arrows)";
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, plotW(), height - AXIS_H); ctx.clip();
    ctx.lineWidth = 1;
    for (const a of inView) {
      const xa = x(arrowFrom[a]), xb = x(arrowTo[a]);
      const ya = AXIS_H + (arrows.fromRow[a] - top + 0.5) * ROW_H;
      const yb = AXIS_H + (arrows.toRow[a] - top + 0.5) * ROW_H;
      ctx.strokeStyle = ctx.fillStyle = COLOR[arrows.kind[a]];
      ctx.beginPath(); ctx.moveTo(xa, ya); ctx.lineTo(xb, yb); ctx.stroke();
      // The head, pointing along the line.
      const ang = Math.atan2(yb - ya, xb - xa);
      ctx.beginPath(); ctx.moveTo(xb, yb);
      ctx.lineTo(xb - 6 * Math.cos(ang - 0.4), yb - 6 * Math.sin(ang - 0.4));
      ctx.lineTo(xb - 6 * Math.cos(ang + 0.4), yb - 6 * Math.sin(ang + 0.4));
      ctx.fill();
    }
    ctx.restore();
    return " · " + inView.length + " arrows";
  }

  function drawLabels(first, last) {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, AXIS_H, LABEL_W, height);
    ctx.strokeStyle = "#ccc";
    ctx.beginPath(); ctx.moveTo(LABEL_W - 0.5, 0); ctx.lineTo(LABEL_W - 0.5, height); ctx.stroke();
    ctx.save();
    ctx.beginPath(); ctx.rect(0, AXIS_H, LABEL_W - 6, height); ctx.clip();
    ctx.textBaseline = "middle";
    for (let r = first; r < last; r++) {
      ctx.fillStyle = r === 0 ? "#666" : "#222";
      ctx.fillText(label(r), 6, AXIS_H + (r - top + 0.5) * ROW_H);
    }
    ctx.restore();
  }

  function drawAxis() {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, width, AXIS_H);
    ctx.strokeStyle = "#bbb";
    ctx.beginPath(); ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(width, AXIS_H - 0.5); ctx.stroke();
    // Ticks at 1, 2 or 5 times a power of ten, at least 90 px apart.
    const minStep = (90 * (t1 - t0)) / plotW();
    let step = Math.pow(10, Math.floor(Math.log10(Math.max(minStep, 1e-3))));
    for (const m of [1, 2, 5, 10]) { if (step * m >= minStep) { step *= m; break; } }
    // One unit for the whole axis, with as many decimals as the step needs.
    const far = Math.max(Math.abs(t0), Math.abs(t1));
    const [unit, name] = far < 1e3 ? [1, " ns"] : far < 1e6 ? [1e3, " µs"]
      : far < 1e9 ? [1e6, " ms"] : [1e9, " s"];
    const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / unit) + 1e-9)));
    ctx.fillStyle = "#444"; ctx.textBaseline = "middle";
    for (let k = Math.ceil(t0 / step); k * step <= t1; k++) {
      const t = k * step, tx = x(t);
      if (tx < LABEL_W) continue;
      ctx.fillRect(tx, AXIS_H - 6, 1, 6);
      ctx.fillText((t / unit).toFixed(decimals) + name, tx + 3, AXIS_H / 2 - 2);
    }
    ctx.fillText("time since the first event", 6, AXIS_H / 2 - 2);
  }

  // ---- What is under the pointer. ----
  function describe(px, py) {
    if (px < LABEL_W || py < AXIS_H) return null;
    const r = Math.floor(top + (py - AXIS_H) / ROW_H);
    if (r < 0 || r >= rowCount) return null;
    const row = rows[r], t = timeAt(px), slack = 3 * ((t1 - t0) / plotW());
    let i = lowerBound(row.start, row.len, t + slack) - 1;
    // A run under the pointer (or within 3 px of it).
    if (i >= 0 && row.end[i] >= t - slack) {
      if (r === 0) {
        return "scheduler: poll at " + fmt(row.end[i]) + "\n" + row.arg[i] +
          (row.arg[i] === 1 ? " event" : " events") + ", blocked " + fmt(row.wakeAt[i]);
      }
      const then = row.kind[i] === 0 ? "still running when the trace was taken"
        : "then: " + reason(row.kind[i], row.arg[i]);
      let text = label(r) + "\nran " + fmt(row.end[i] - row.start[i]) + " from " +
        fmt(row.start[i]) + "\n" + then;
      for (const [s, e, report] of stallsOf.get(r) || []) {
        if (s <= row.end[i] && e >= row.start[i]) text += "\nSTALL: " + report;
      }
      return text;
    }
    if (r === 0) return null;
    if (i < 0) {
      return label(r) + "\n" + (row.spawnedAt >= 0 && t >= row.spawnedAt
        ? "spawned by " + (row.parent > 0 ? label(row.parent) : "the scheduler") +
          " at " + fmt(row.spawnedAt) + ", not yet run"
        : "not in the trace yet");
    }
    if (row.kind[i] === FINISH) return label(r) + "\nfinished at " + fmt(row.end[i]);
    const until = i + 1 < row.len ? row.start[i + 1] : span;
    let text = label(r) + "\nwaiting (" + reason(row.kind[i], row.arg[i]) + ") from " +
      fmt(row.end[i]) + (i + 1 < row.len ? " for " + fmt(until - row.end[i])
        : ", still waiting when the trace was taken");
    if (row.wakeAt[i] >= 0) {
      const k = row.wakeKind[i];
      text += "\nwoken at " + fmt(row.wakeAt[i]) + " by " +
        (k === WAKE_TASK ? label(row.wakeBy[i]) : kinds[k].replace("woken by ", ""));
      if (i + 1 < row.len) text += ", ran " + fmt(row.start[i + 1] - row.wakeAt[i]) + " later";
    }
    return text;
  }

  // ---- Zoom, pan, hover. ----
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    if (e.shiftKey) { top += Math.sign(e.deltaY) * 3; clampTop(); redraw(); return; }
    const box = canvas.getBoundingClientRect();
    const px = Math.max(LABEL_W, e.clientX - box.left);
    const anchor = timeAt(px);
    const factor = Math.pow(1.0015, e.deltaY * (e.deltaMode === 1 ? 30 : 1));
    const range = Math.max(20, Math.min((t1 - t0) * factor, span * 10 + 1e3));
    t0 = anchor - ((px - LABEL_W) / plotW()) * range;
    t1 = t0 + range;
    redraw();
  }, { passive: false });

  let drag = null;
  canvas.addEventListener("mousedown", (e) => {
    drag = { x: e.clientX, y: e.clientY, t0, t1, top };
    canvas.classList.add("dragging");
    tip.hidden = true;
  });
  window.addEventListener("mouseup", () => { drag = null; canvas.classList.remove("dragging"); });
  window.addEventListener("mousemove", (e) => {
    if (drag) {
      const dt = ((e.clientX - drag.x) / plotW()) * (drag.t1 - drag.t0);
      t0 = drag.t0 - dt; t1 = drag.t1 - dt;
      top = drag.top - (e.clientY - drag.y) / ROW_H;
      clampTop();
      redraw();
      return;
    }
    const box = canvas.getBoundingClientRect();
    const px = e.clientX - box.left, py = e.clientY - box.top;
    const text = px >= 0 && py >= 0 && px < width && py < height ? describe(px, py) : null;
    if (text === null) { tip.hidden = true; return; }
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = Math.min(px + 14, width - tip.offsetWidth - 4) + "px";
    tip.style.top = Math.min(py + 14, height - tip.offsetHeight - 4) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  canvas.addEventListener("dblclick", () => { resetView(); redraw(); });
  window.addEventListener("resize", resize);
  resize();
})();
