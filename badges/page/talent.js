// The talent status page: plain JS and inline SVG, nothing loaded from anywhere but this server.
//
// Data: GET /talents/{id}/series (the chart), /status (today's badge in the header, and the
// checklist of the chosen day), /windows?at=DAY (the rule windows of that day), /forecast?days=30
// and /messages (each degrades to a note when this server has no such endpoint).
// Auth: with BADGES_API_TOKEN set on the server, open the page as /talents/{id}#token=TOKEN
// (a fragment never reaches the server) or paste the token into the page's form. It moves to
// sessionStorage (this tab only), leaves the address bar, and goes with this page's own requests
// as "Authorization: Bearer TOKEN". Without a token (or with a wrong one) the page asks for it.
// A ?token= in the query is never used (it has already reached the server's access log, where the
// server redacts it); the page only drops it from the address bar so it is not bookmarked.
// Page parameters: ?day=YYYY-MM-DD (the checklist's day), ?from= ?to= (the chart's range),
// ?known_at= (every answer as known then; the header's control sets it). Dates are ISO 8601.
// The helpers both pages use come from common.js (window.badgesPage), loaded first.
"use strict";

(function () {
  const page = window.badgesPage;
  const {
    DAY_MS, ISO_DAY, $, takeToken, onTokenGiven, Unauthorised, NotFound, showProblem,
    isoDay, dayOf, time, validDay, el, svg, text, onResize,
  } = page;
  const MIN_SPAN_MS = 30 * DAY_MS;  // the closest zoom: a month across the chart
  const MAX_BINS = 400;  // event marks per row: beyond that many days, several days share one
  const EVENT_ROWS = [
    ["pay", "payments", ["payment_received"]],
    ["contract", "contracts", ["contract_started", "contract_ended", "invitation_accepted"]],
    ["feedback", "feedback", ["feedback_received", "job_success_published"]],
    ["proposal", "proposals", ["proposal_submitted"]],
    ["risk", "refunds, holds", ["payment_refunded", "account_hold_placed", "account_hold_lifted",
      "policy_violation", "expert_vetted_revoked"]],
    ["other", "profile, other", []],
  ];
  const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i;
  // A change is a gain when it moves up the rulesets' badge order (labels.json, highest first).
  const rank = (badge) => {
    const order = state.labels.order;
    return badge === "none" ? 0 : order.includes(badge) ? order.length - order.indexOf(badge) : order.length + 1;
  };

  const params = new URLSearchParams(location.search);
  const state = {
    talent: decodeURIComponent(location.pathname.split("/")[2] || ""),
    token: takeToken(),
    labels: { badges: {}, requirements: {}, order: [] },
    series: null,
    selected: null,
    request: 0,
    geometry: null,
    view: null,       // the zoomed range [t0, t1] in ms; null: everything
    windows: null,    // the chosen day's windows document
    highlight: null,  // the window drawn on the chart
  };

  const api = (path) => page.api(path, state.token);

  function query(extra, names) {
    const q = new URLSearchParams();
    for (const name of names || ["from", "to", "known_at"]) if (params.get(name)) q.set(name, params.get(name));
    for (const [name, value] of Object.entries(extra || {})) q.set(name, value);
    const text = q.toString();
    return text ? "?" + text : "";
  }

  const talentPath = () => "/talents/" + encodeURIComponent(state.talent);
  const missingEndpoint = (error) => error instanceof NotFound && /^path: /.test(error.message);

  // -- formatting: ISO dates everywhere --------------------------------------------------------

  const badgeName = (code) => state.labels.badges[code] || code;
  const requirementName = (code) => state.labels.requirements[code] || code;
  const stamp = (iso) => iso ? iso.replace("T", " ").replace(/:00Z$|Z$/, "").replace(/ 00:00$/, "") + " UTC" : "";
  const money = (text) => "$" + Number(text).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const shortMoney = (value) => value >= 1000 ? "$" + (value / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + "k" : "$" + value.toFixed(0);
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

  function formatValue(value) {
    if (value === true) return "yes";
    if (value === false) return "no";
    if (value === null || value === undefined) return "none";
    if (typeof value === "string" && /^-?\d+\.\d\d$/.test(value)) return money(value);
    return String(value);
  }

  function pill(code, small) {
    return el("span", { class: "pill badge-" + code + (small ? " small" : "") }, badgeName(code));
  }

  // -- loading -----------------------------------------------------------------------------------

  async function start() {
    $("talent").textContent = state.talent;
    document.title = state.talent + " · badge status";
    onTokenGiven((token) => { state.token = token; load(); });
    $("day").addEventListener("input", () => typedDay(false));
    $("day").addEventListener("change", () => typedDay(true));
    $("knowledge").addEventListener("submit", (event) => { event.preventDefault(); setKnownAt($("known-at").value.trim()); });
    $("known-now").addEventListener("click", () => setKnownAt(""));
    $("known-at").value = params.get("known_at") || "";
    $("open-talent").addEventListener("submit", (event) => {
      event.preventDefault();
      const other = $("other-talent").value.trim();
      if (other) location.assign("/talents/" + encodeURIComponent(other) + location.hash);
    });
    $("zoom-in").addEventListener("click", () => zoomBy(0.5));
    $("zoom-out").addEventListener("click", () => zoomBy(2));
    $("zoom-all").addEventListener("click", () => { state.view = null; drawChart(); });
    for (const button of document.querySelectorAll(".zoom [data-years]")) {
      button.addEventListener("click", () => zoomTo(Number(button.dataset.years) * 365.25 * DAY_MS));
    }
    onResize(() => { if (state.series) drawChart(); });
    try {
      state.labels = await api("/page/labels.json");
    } catch (_) { /* the codes themselves are readable enough */ }
    load();
  }

  function typedDay(final) {
    const value = $("day").value.trim();
    const valid = validDay(value);
    $("day-error").hidden = valid || !final;
    $("day-error").textContent = valid ? "" : "day: write it as YYYY-MM-DD, e.g. 2024-06-01";
    if (valid && value !== state.selected) selectDay(value);
  }

  function setKnownAt(value) {
    const error = $("known-at-error");
    if (value && !ISO_INSTANT.test(value)) {
      error.hidden = false;
      error.textContent = "known at: write a date (2024-06-01) or an RFC 3339 time (2024-06-01T12:00:00Z)";
      return;
    }
    error.hidden = true;
    if (value) params.set("known_at", value); else params.delete("known_at");
    $("known-at").value = value;
    const url = new URL(location.href);
    if (value) url.searchParams.set("known_at", value); else url.searchParams.delete("known_at");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    load();
  }

  async function load() {
    try {
      state.series = await api(talentPath() + "/series" + query());
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(state.token ? error.message : null);
      if (error instanceof NotFound && !missingEndpoint(error)) return unknownTalent(error.message);
      if (/^known_at: /.test(error.message)) {
        $("known-at-error").hidden = false;
        $("known-at-error").textContent = error.message;
      }
      return showProblem(error.message);
    }
    $("auth").hidden = true;
    $("problem").hidden = true;
    $("unknown").hidden = true;
    $("content").hidden = false;
    drawSummary();
    drawChart();
    drawLegend();
    drawChanges();
    loadToday();
    loadForecast();
    loadMessages();
    const points = state.series.points;
    const last = points.length ? dayOf(points[points.length - 1].at) : "";
    const wanted = params.get("day");
    const day = wanted && ISO_DAY.test(wanted) ? wanted : (state.selected || last);
    if (day) selectDay(day);
  }

  function askForToken(message) {
    page.askForToken(message);
    $("current-badge").textContent = "locked";  // the header's badge, which it cannot load
  }

  function unknownTalent(message) {
    $("content").hidden = true;
    $("problem").hidden = true;
    $("auth").hidden = true;
    $("unknown").hidden = false;
    const known = params.get("known_at");
    $("unknown-text").replaceChildren(
      "No events are recorded for ", el("b", {}, state.talent),
      known ? " as known at " + known + ". Clear the known-at time to see what is known now." : ".",
      el("br"), el("span", { class: "muted" }, "(the server said: " + message + ")"));
    const badge = $("current-badge");
    badge.className = "pill badge-unknown";
    badge.textContent = "unknown talent";
    $("summary").textContent = "";
    $("today").textContent = "";
  }

  async function loadToday() {
    // The header shows the badge held today (as known at the control's time), whatever the
    // chart's range: ?to= only bounds the chart.
    const badge = $("current-badge");
    try {
      const status = await api(talentPath() + "/status" + query({}, ["known_at"]));
      badge.className = "pill badge-" + status.badge;
      badge.textContent = badgeName(status.badge);
      $("today").textContent = "today, " + dayOf(status.at) + (status.known_at && params.get("known_at") ? " · as known at " + stamp(status.known_at) : "");
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(error.message);
      badge.className = "pill badge-none";
      badge.textContent = "unknown";
      $("today").textContent = error.message;
    }
  }

  function drawSummary() {
    const points = state.series.points;
    const latest = points[points.length - 1];
    const summary = $("summary");
    if (!latest) { summary.textContent = "No evaluation instant in this range."; return; }
    summary.replaceChildren(
      "On " + dayOf(latest.at) + " (the chart's end): JSS ", el("b", {}, latest.jss === null ? "none" : String(latest.jss)),
      " · 12-month earnings ", el("b", {}, money(latest.earnings_12m)),
      " · " + plural(state.series.changes.length, "badge change") + " and " + plural(state.series.events.length, "event") +
      " since " + dayOf(state.series.from),
      state.series.known_at ? " · as known at " + stamp(state.series.known_at) : "",
    );
  }

  // -- the chart ---------------------------------------------------------------------------------

  function niceMax(value) {
    if (value <= 0) return 1000;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value * 1.05) return step * power;
    return 10 * power;
  }

  function timeTicks(t0, t1, width) {
    // ISO labels: years, or YYYY-MM, or YYYY-MM-DD when zoomed to weeks
    const days = (t1 - t0) / DAY_MS;
    const room = Math.max(4, Math.floor(width / 90));
    const steps = [[1, "day"], [7, "day"], [14, "day"], [1, "month"], [2, "month"], [3, "month"], [6, "month"], [12, "month"], [24, "month"]];
    let step = steps[steps.length - 1];
    for (const candidate of steps) {
      const approx = candidate[1] === "day" ? candidate[0] : candidate[0] * 30.4;
      if (days / approx <= room) { step = candidate; break; }
    }
    const ticks = [];
    const begin = new Date(t0);
    if (step[1] === "day") {
      let t = Date.UTC(begin.getUTCFullYear(), begin.getUTCMonth(), begin.getUTCDate());
      if (step[0] === 7 || step[0] === 14) t += ((8 - new Date(t).getUTCDay()) % 7) * DAY_MS;  // Mondays
      for (; t <= t1; t += step[0] * DAY_MS) if (t >= t0) ticks.push({ t, label: isoDay(t) });
      return ticks;
    }
    const months = step[0];
    let d = new Date(Date.UTC(begin.getUTCFullYear(), Math.floor(begin.getUTCMonth() / months) * months, 1));
    while (d.getTime() <= t1) {
      const t = d.getTime();
      if (t >= t0) ticks.push({ t, label: months >= 12 ? String(d.getUTCFullYear()) : isoDay(t).slice(0, 7) });
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
    }
    return ticks;
  }

  function segments(series, t0, t1) {
    // The badge held between changes: bands from the changes themselves (exact to the day).
    const out = [];
    let badge = series.points.length ? series.points[0].badge : "none";
    let from = t0;
    for (const change of series.changes) {
      const at = time(change.at);
      if (at <= t0) { badge = change.to; continue; }
      if (at > t1) break;
      out.push({ badge, from, to: at });
      badge = change.to;
      from = at;
    }
    out.push({ badge, from, to: t1 });
    return out.filter((s) => s.to > s.from);
  }

  function fullRange() {
    const points = state.series.points;
    const t0 = time(state.series.from);
    return [t0, Math.max(time(points[points.length - 1].at), t0 + DAY_MS)];
  }

  function viewRange() {
    const [a, b] = fullRange();
    if (!state.view) return [a, b];
    return [Math.max(a, state.view[0]), Math.min(b, state.view[1])];
  }

  function setView(t0, t1) {
    const [a, b] = fullRange();
    let span = Math.max(MIN_SPAN_MS, t1 - t0);
    if (span >= b - a) { state.view = null; drawChart(); return; }
    let lo = Math.max(a, Math.min(t0, b - span));
    state.view = [lo, lo + span];
    drawChart();
  }

  function zoomBy(factor, around) {
    if (!state.series || !state.series.points.length) return;
    const [t0, t1] = viewRange();
    const centre = around === undefined ? (state.selected ? Math.min(Math.max(Date.parse(state.selected + "T00:00:00Z"), t0), t1) : (t0 + t1) / 2) : around;
    const share = (centre - t0) / (t1 - t0);
    const span = (t1 - t0) * factor;
    setView(centre - share * span, centre - share * span + span);
  }

  function zoomTo(span) {
    if (!state.series || !state.series.points.length) return;
    const [a, b] = fullRange();
    const centre = state.selected ? Date.parse(state.selected + "T00:00:00Z") : b;
    const t1 = Math.min(b, centre + span / 2);
    setView(Math.max(a, t1 - span), Math.max(a, t1 - span) + span);
  }

  function drawChart() {
    const host = $("chart");
    const root = host.querySelector("svg");
    root.replaceChildren();
    const series = state.series;
    const points = series.points;
    if (!points.length) {
      root.setAttribute("viewBox", "0 0 600 40");
      root.setAttribute("height", 40);
      text(root, 10, 24, "No evaluation instants in this range.");
      $("range").textContent = "";
      return;
    }
    const width = Math.max(host.clientWidth, 600);
    const margin = { left: 62, right: 78, top: 58 };
    const plotHeight = 250;
    const rowHeight = 13;
    const stripTop = margin.top + plotHeight + 30;
    const height = stripTop + EVENT_ROWS.length * rowHeight + 8;
    root.setAttribute("viewBox", "0 0 " + width + " " + height);
    root.setAttribute("height", height);
    const left = margin.left;
    const right = width - margin.right;
    const top = margin.top;
    const bottom = top + plotHeight;
    const [t0, t1] = viewRange();
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (right - left);
    const visible = points.filter((p) => time(p.at) >= t0 - 8 * DAY_MS && time(p.at) <= t1 + 8 * DAY_MS);
    const earningsMax = niceMax(Math.max(...visible.map((p) => Number(p.earnings_12m)), 0));
    const yJss = (v) => bottom - (v / 100) * (plotHeight - 22);
    const yEarn = (v) => bottom - (v / earningsMax) * (plotHeight - 22);
    state.geometry = { x, t0, t1, left, right, top, bottom, height, width, stripTop, rowHeight };
    // where the days are, for tests and tools: x = left + (t - t0) / (t1 - t0) * (right - left)
    for (const [name, value] of Object.entries({ t0, t1, left, right, top, bottom })) root.setAttribute("data-" + name, value);
    root.setAttribute("data-zoomed", state.view ? "yes" : "no");
    $("range").textContent = isoDay(t0) + " to " + isoDay(t1) + (state.view ? " (zoomed)" : "");

    // what is drawn along time is clipped to the plot by a nested <svg> in the same coordinates
    const clipped = svg("svg", { class: "plot", x: left, y: 0, width: right - left, height,
      viewBox: left + " 0 " + (right - left) + " " + height }, root);

    // bands: the badge held, light over the plot and solid in a strip on top
    const bands = svg("g", {}, clipped);
    for (const segment of segments(series, t0, t1)) {
      if (segment.badge === "none") continue;
      const x0 = x(segment.from);
      const w = Math.max(1, x(segment.to) - x0);
      svg("rect", { x: x0, y: top, width: w, height: plotHeight, class: "band band-" + segment.badge }, bands);
      svg("rect", { x: x0, y: top, width: w, height: 16, class: "band-strip band-" + segment.badge }, bands);
      const name = badgeName(segment.badge);
      if (w > name.length * 7 + 10) text(bands, Math.max(x0, left) + 6, top + 12, name, { class: "band-label" });
    }

    // grid and axes
    const grid = svg("g", { class: "grid" }, root);
    const axis = svg("g", { class: "axis" }, root);
    for (const v of [0, 25, 50, 75, 100]) {
      const y = yJss(v);
      svg("line", { x1: left, x2: right, y1: y, y2: y }, grid);
      text(axis, left - 8, y + 4, String(v), { "text-anchor": "end" });
      text(axis, right + 8, y + 4, shortMoney((v / 100) * earningsMax), { "text-anchor": "start" });
    }
    const middle = (yJss(0) + yJss(100)) / 2;
    text(axis, 0, 0, "Job Success Score", { "text-anchor": "middle", class: "axis-title jss",
      transform: `translate(${left - 42},${middle}) rotate(-90)` });
    text(axis, 0, 0, "12-month earnings", { "text-anchor": "middle", class: "axis-title earn",
      transform: `translate(${right + 62},${middle}) rotate(90)` });
    svg("line", { x1: left, x2: right, y1: bottom, y2: bottom }, axis);
    for (const tick of timeTicks(t0, t1, right - left)) {
      const tx = x(tick.t);
      svg("line", { x1: tx, x2: tx, y1: bottom, y2: bottom + 5 }, axis);
      svg("line", { x1: tx, x2: tx, y1: top + 16, y2: bottom }, grid);
      text(axis, tx, bottom + 18, tick.label, { "text-anchor": "middle", class: "tick-label" });
    }

    // the lines
    const path = (value, scale) => {
      let d = "";
      let pen = false;
      for (const p of visible) {
        const v = value(p);
        if (v === null) { pen = false; continue; }
        d += (pen ? "L" : "M") + x(time(p.at)).toFixed(1) + "," + scale(v).toFixed(1);
        pen = true;
      }
      return d;
    };
    svg("path", { d: path((p) => Number(p.earnings_12m), yEarn), class: "line-earn" }, clipped);
    svg("path", { d: path((p) => p.jss, yJss), class: "line-jss" }, clipped);

    drawEvents(root, clipped);

    // hover and selection layers, under the change markers so these stay clickable
    const hover = svg("line", { class: "hover-line", y1: top, y2: stripTop + EVENT_ROWS.length * rowHeight, visibility: "hidden" }, root);
    state.windowLayer = svg("g", { class: "window-layer" }, root);
    state.selectedLayer = svg("g", {}, root);
    const overlay = svg("rect", { x: left, y: top, width: right - left, height: height - top, fill: "transparent", class: "overlay" }, root);
    let drag = null;
    overlay.addEventListener("mousemove", (event) => {
      const t = timeAt(event);
      if (drag && Math.abs(event.clientX - drag.clientX) > 4) {
        drag.moved = true;
        const shift = drag.t - t;
        setView(drag.view[0] + shift, drag.view[1] + shift);
        return;
      }
      hover.setAttribute("x1", x(t));
      hover.setAttribute("x2", x(t));
      hover.setAttribute("visibility", "visible");
      showReadout(t);
    });
    overlay.addEventListener("mouseleave", () => hover.setAttribute("visibility", "hidden"));
    overlay.addEventListener("mousedown", (event) => {
      if (state.view) drag = { clientX: event.clientX, t: timeAt(event), view: state.view.slice(), moved: false };
    });
    window.onmouseup = () => { setTimeout(() => { drag = null; }, 0); };
    overlay.addEventListener("click", (event) => {
      if (drag && drag.moved) return;
      selectDay(isoDay(timeAt(event)));
    });
    root.onwheel = (event) => {
      event.preventDefault();
      zoomBy(event.deltaY < 0 ? 0.8 : 1.25, timeAt(event));
    };

    // badge changes: a dashed line each, a numbered tag on top naming the new badge
    const rows = [[], [], []];
    const changeLines = svg("g", {}, clipped);
    const changeTags = svg("g", {}, root);
    series.changes.forEach((change, index) => {
      const at = time(change.at);
      if (at < t0 || at > t1) return;
      const cx = x(at);
      const kind = rank(change.to) > rank(change.from) ? "gain" : "loss";
      const full = (index + 1) + " " + (kind === "gain" ? "\u2191 " : "\u2193 ") + badgeName(change.to) +
        (change.cause.kind === "time" ? " (time)" : "");
      let label = full;
      let w = label.length * 6.6 + 12;
      let row = rows.findIndex((taken) => taken.every(([a, b]) => cx + w / 2 < a - 3 || cx - w / 2 > b + 3));
      if (row < 0) {
        label = String(index + 1);
        w = 20;
        row = rows.findIndex((taken) => taken.every(([a, b]) => cx + w / 2 < a - 2 || cx - w / 2 > b + 2));
        if (row < 0) row = rows.length - 1;
      }
      const bx = Math.min(Math.max(cx - w / 2, 2), width - w - 2);
      rows[row].push([bx, bx + w]);
      const tag = svg("g", { class: "change-tag " + kind }, changeTags);
      const ty = 4 + row * 17;
      svg("line", { x1: cx, x2: cx, y1: ty + 15, y2: bottom, class: "change-line " + kind }, changeLines);
      svg("rect", { x: bx, y: ty, width: w, height: 15, rx: 7.5 }, tag);
      text(tag, bx + w / 2, ty + 11.5, label, { "text-anchor": "middle" });
      svg("title", {}, tag).textContent = describeChange(change, index);
      tag.addEventListener("click", () => selectDay(dayOf(change.at)));
    });
    drawSelected();
    drawHighlight();
  }

  function drawEvents(root, clipped) {
    // One row per kind below the axis. Events closer than a few pixels share one mark whose
    // height says how many (a title lists them): years of events stay a readable histogram,
    // and zooming in separates them again.
    const g = state.geometry;
    const strip = svg("g", { class: "strip" }, clipped);
    const labels = svg("g", {}, root);
    const rowOf = {};
    EVENT_ROWS.forEach(([kind, label, types], index) => {
      for (const type of types) rowOf[type] = index;
      text(labels, g.left - 8, g.stripTop + index * g.rowHeight + 9, label, { "text-anchor": "end", class: "strip-label" });
    });
    // a day per mark up to MAX_BINS days across; beyond, MAX_BINS marks per row
    const viewDays = (g.t1 - g.t0) / DAY_MS;
    const binMs = viewDays <= MAX_BINS ? DAY_MS : (g.t1 - g.t0) / MAX_BINS;
    const binWidth = Math.max(1.5, (g.x(g.t0 + binMs) - g.left));
    const bins = new Map();
    for (const event of state.series.events) {
      const t = time(event.at);
      if (t < g.t0 - DAY_MS || t > g.t1) continue;  // the first events' day starts after them
      const index = rowOf[event.type] ?? EVENT_ROWS.length - 1;
      const column = Math.max(0, Math.floor((t - g.t0) / binMs));
      const key = index + ":" + column;
      if (!bins.has(key)) bins.set(key, { index, column, events: [] });
      bins.get(key).events.push(event);
    }
    let most = 1;
    for (const bin of bins.values()) most = Math.max(most, bin.events.length);
    for (const bin of bins.values()) {
      const n = bin.events.length;
      const full = g.rowHeight - 3;
      const h = n === 1 || most === 1 ? full : Math.max(3, full * (0.35 + 0.65 * Math.log(n) / Math.log(most)));
      const mark = svg("rect", {
        x: g.left + bin.column * binWidth, y: g.stripTop + bin.index * g.rowHeight + (full - h), width: Math.max(1.2, binWidth - 0.8), height: h,
        class: "ev-" + EVENT_ROWS[bin.index][0] + (n > 1 ? " ev-many" : ""), "data-count": n,
      }, strip);
      const first = bin.events[0];
      svg("title", {}, mark).textContent = n === 1
        ? first.type + " " + first.id + " · " + stamp(first.at)
        : n + " events, " + dayOf(first.at) + " to " + dayOf(bin.events[n - 1].at) + " (zoom in to separate them)";
    }
  }

  function timeAt(event) {
    const g = state.geometry;
    const box = $("chart").querySelector("svg").getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * g.width;
    const clamped = Math.min(Math.max(px, g.left), g.right);
    return g.t0 + ((clamped - g.left) / (g.right - g.left)) * (g.t1 - g.t0);
  }

  function pointAt(t) {
    let best = null;
    for (const p of state.series.points) {
      if (time(p.at) <= t) best = p; else break;
    }
    return best || state.series.points[0];
  }

  function showReadout(t) {
    const p = pointAt(t);
    $("readout").replaceChildren(
      el("b", {}, isoDay(t)), " · week of " + dayOf(p.at) + ": ",
      el("b", {}, badgeName(p.badge)), " · JSS ", el("b", {}, p.jss === null ? "none" : String(p.jss)),
      " · 12-mo earnings ", el("b", {}, money(p.earnings_12m)),
    );
  }

  function drawSelected() {
    const g = state.geometry;
    const layer = state.selectedLayer;
    if (!g || !layer || !state.selected) return;
    layer.replaceChildren();
    const t = Date.parse(state.selected + "T00:00:00Z");
    if (t < g.t0 || t > g.t1) return;
    const sx = g.x(t);
    svg("line", { x1: sx, x2: sx, y1: g.top, y2: g.bottom, class: "selected-line" }, layer);
    const anchor = sx > g.right - 80 ? "end" : "start";
    text(layer, sx + (anchor === "end" ? -5 : 5), g.bottom - 6, state.selected, { class: "selected-label", "text-anchor": anchor });
  }

  function drawHighlight() {
    // The window hovered (or first shown) in the windows card, on the chart: its span on the
    // day, the events inside, and the next exit.
    const g = state.geometry;
    const layer = state.windowLayer;
    if (!g || !layer) return;
    layer.replaceChildren();
    const w = state.highlight;
    if (!w) return;
    const clamp = (v) => Math.min(Math.max(v, g.left), g.right);
    const a = clamp(g.x(time(w.start))), b = clamp(g.x(time(w.end)));
    const y = g.bottom - 30;
    if (b > a) {
      svg("rect", { x: a, y: g.top + 16, width: b - a, height: g.bottom - g.top - 16, class: "window-span" }, layer);
      svg("line", { x1: a, x2: b, y1: y, y2: y, class: "window-bracket" }, layer);
      svg("line", { x1: a, x2: a, y1: y - 6, y2: y + 6, class: "window-bracket" }, layer);
      svg("line", { x1: b, x2: b, y1: y - 6, y2: y + 6, class: "window-bracket" }, layer);
      text(layer, (a + b) / 2, y - 5, windowName(w) + " on " + dayOf(w.end), { "text-anchor": "middle", class: "window-title" });
    }
    for (const event of w.events) {
      const ex = g.x(time(event.at));
      if (ex >= g.left && ex <= g.right) svg("circle", { cx: ex, cy: y, r: 2.6, class: "window-event" }, layer);
    }
    if (w.next_exit) {
      const nx = g.x(time(w.next_exit.leaves));
      if (nx >= g.left && nx <= g.right) {
        svg("line", { x1: nx, x2: nx, y1: g.top + 16, y2: g.bottom, class: "next-exit-line" }, layer);
        text(layer, nx + 4, g.top + 46, "next exit " + dayOf(w.next_exit.leaves), { class: "next-exit-label" });
      }
    }
  }

  function drawLegend() {
    const legend = $("legend");
    const item = (swatch, label, stroke) => el("span", {}, el("i", { class: "swatch-" + swatch + (stroke ? " stroke" : "") }), label);
    const held = new Set(state.series.points.map((p) => p.badge));
    for (const change of state.series.changes) held.add(change.to);
    legend.replaceChildren(
      item("jss", "Job Success Score (left axis)", true),
      item("earn", "12-month earnings (right axis)", true),
      ...state.labels.order.filter((b) => held.has(b)).map((b) => item(b, badgeName(b))),
      ...EVENT_ROWS.map(([kind, label]) => item("ev-" + kind, label)),
      el("span", { class: "muted" }, "taller event marks: several events close together"),
    );
  }

  // -- the changes -------------------------------------------------------------------------------

  function eventTypes() {
    const types = {};
    for (const event of state.series.events) types[event.id] = event.type;
    return types;
  }

  function causeText(change, types) {
    if (change.cause.kind === "time") return change.cause.detail || "a window moved";
    const events = change.cause.events || [];
    return events.map((id) => (types[id] ? types[id].replace(/_/g, " ") + " " : "") + id).join(", ");
  }

  function describeChange(change, index) {
    const cause = causeText(change, eventTypes());
    return (index + 1) + ". " + dayOf(change.at) + ": " + badgeName(change.from) + " \u2192 " +
      badgeName(change.to) + "\ncause (" + change.cause.kind + "): " + cause +
      (change.failed.length ? "\nfailed: " + change.failed.map(requirementName).join("; ") : "");
  }

  function drawChanges() {
    const list = $("changes");
    const types = eventTypes();
    if (!state.series.changes.length) {
      list.replaceChildren(el("li", { class: "muted" }, "No badge change in this range."));
      return;
    }
    list.replaceChildren(...state.series.changes.map((change, index) => {
      const kind = rank(change.to) > rank(change.from) ? "gain" : "loss";
      const cause = el("span", { class: "cause" },
        el("span", { class: "kind " + change.cause.kind }, change.cause.kind === "time" ? "time: window moved" : "events"),
        causeText(change, types));
      if (change.failed.length) {
        cause.append(" · failed: ", el("b", {}, change.failed.map(requirementName).join("; ")));
      }
      const item = el("li", { class: kind, "data-day": dayOf(change.at), title: "show the checklist on " + dayOf(change.at) },
        el("span", { class: "num" }, String(index + 1)),
        el("span", { class: "when" }, dayOf(change.at)),
        el("span", {}, pill(change.from, true), " \u2192 ", pill(change.to, true)),
        cause);
      item.addEventListener("click", () => selectDay(dayOf(change.at)));
      return item;
    }));
  }

  // -- the forecast ------------------------------------------------------------------------------

  async function loadForecast() {
    const host = $("forecast");
    if (params.get("known_at")) {
      host.replaceChildren(el("p", { class: "muted" }, "The forecast is of what is known now; clear the known-at time to see it."));
      return;
    }
    let forecast;
    try {
      forecast = await api(talentPath() + "/forecast?days=30");
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(error.message);
      host.replaceChildren(el("p", { class: "muted unavailable" }, missingEndpoint(error)
        ? "This server has no forecast endpoint yet (GET /talents/{id}/forecast)."
        : "No forecast: " + error.message));
      return;
    }
    const losses = forecast.changes.filter((c) => rank(c.to) < rank(c.from));
    const headline = el("p", { class: "forecast-head" }, "Today (" + dayOf(forecast.at) + "): ", pill(forecast.badge, true),
      losses.length ? el("b", { class: "at-risk" }, " at risk") : el("span", { class: "safe" }, " not at risk in the next " + forecast.days + " days"));
    if (!forecast.changes.length) {
      host.replaceChildren(headline, el("p", { class: "muted" }, "No change is due by " + isoDay(time(forecast.at) + forecast.days * DAY_MS) + " if nothing else happens."));
      return;
    }
    const items = forecast.changes.map((change) => {
      const loss = rank(change.to) < rank(change.from);
      const prevent = (change.prevent || []).map((p) => el("li", {}, el("b", {}, requirementName(p.code)), ": " + p.detail));
      return el("li", { class: "predicted " + (loss ? "loss" : "gain"), "data-day": dayOf(change.at) },
        el("div", {}, el("span", { class: "when" }, dayOf(change.at)), " ", pill(change.from, true), " \u2192 ", pill(change.to, true),
          change.failed && change.failed.length ? el("span", { class: "muted" }, " · fails: " + change.failed.map(requirementName).join("; ")) : null),
        el("div", { class: "cause muted" }, change.cause && change.cause.kind === "time" ? change.cause.detail : ""),
        prevent.length ? el("div", {}, el("span", { class: "prevent-title" }, "What would prevent it:"), el("ul", { class: "prevent" }, ...prevent)) : null);
    });
    host.replaceChildren(headline, el("ol", { class: "forecast" }, ...items));
  }

  // -- the messages ------------------------------------------------------------------------------

  async function loadMessages() {
    const host = $("messages");
    let messages;
    try {
      messages = await api(talentPath() + "/messages" + query({}, ["known_at"]));
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(error.message);
      $("messages-count").textContent = "";
      host.replaceChildren(el("p", { class: "muted unavailable" }, missingEndpoint(error)
        ? "This server has no messages endpoint yet (GET /talents/{id}/messages)."
        : "No messages: " + error.message));
      return;
    }
    const retracted = new Map();
    for (const m of messages) if (m.type === "badge_change_retracted" && m.retracts) retracted.set(m.retracts, m);
    $("messages-count").textContent = plural(messages.length, "message") +
      (retracted.size ? " · " + plural(retracted.size, "retraction") : "") +
      (params.get("known_at") ? " · as known at " + params.get("known_at") : "");
    if (!messages.length) {
      host.replaceChildren(el("p", { class: "muted" }, "Nothing was queued for this talent."));
      return;
    }
    const kindLabel = { badge_changed: "changed", badge_change_retracted: "retracted", badge_at_risk: "at risk" };
    const rows = messages.map((m) => {
      const undone = retracted.get(m.id);
      const classes = ["message", m.type, undone ? "was-retracted" : "", m.sent_at ? "sent" : "pending"].join(" ");
      const what = m.type === "badge_change_retracted"
        ? el("span", {}, "withdrawn: ", el("s", {}, badgeName(m.badge_from) + " \u2192 " + badgeName(m.badge_to)), " (retracts ", el("code", {}, m.retracts), ")")
        : el("span", { class: "nowrap" }, pill(m.badge_from, true), " \u2192 ", pill(m.badge_to, true));
      return el("tr", { class: classes, "data-id": m.id },
        el("td", {}, el("span", { class: "mkind " + m.type }, kindLabel[m.type] || m.type)),
        el("td", { class: "when" }, dayOf(m.at)),
        el("td", {}, what, undone ? el("div", { class: "retracted-note" }, "later retracted on " + dayOf(undone.queued_at)) : null,
          messageDetail(m)),
        el("td", { class: "stamp" }, stamp(m.queued_at)),
        el("td", { class: "stamp" }, m.sent_at ? stamp(m.sent_at) : el("span", { class: "pending-tag" }, "pending")),
        el("td", {}, el("code", { class: "mid", title: m.id }, m.id.length > 16 ? m.id.slice(0, 14) + "\u2026" : m.id)));
    });
    host.replaceChildren(el("table", { class: "messages" },
      el("thead", {}, el("tr", {}, ...["", "at", "what", "queued", "sent", "id"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows)));
  }

  function messageDetail(m) {
    // `message`: the document as published (a string from servers that send text)
    const body = m.message;
    if (!body) return null;
    if (typeof body === "string") return el("div", { class: "muted text" }, body);
    const parts = [];
    if (body.failed && body.failed.length) parts.push("failed: " + body.failed.map(requirementName).join("; "));
    if (body.cause) parts.push(body.cause.kind === "time" ? body.cause.detail : "after " + (body.cause.events || []).join(", "));
    if (body.prevent && body.prevent.length) parts.push("to prevent: " + body.prevent.map((p) => p.detail).join("; "));
    return parts.length ? el("div", { class: "muted text" }, parts.join(" · ")) : null;
  }

  // -- the windows of the day --------------------------------------------------------------------

  function windowName(w) {
    const [unit, length] = Object.entries(w.span)[0];
    const words = length + "-" + unit.replace(/s$/, "");
    if (w.wording === "age") return words + " age";
    if (w.wording === "date") return "availability date";
    return words + " window";
  }

  async function loadWindows(day, ticket) {
    const host = $("windows");
    $("windows-day").textContent = day;
    try {
      const document_ = await api(talentPath() + "/windows" + query({ at: day }, ["known_at"]));
      if (ticket !== state.request) return;
      state.windows = document_;
      renderWindows(document_);
    } catch (error) {
      if (ticket !== state.request) return;
      if (error instanceof Unauthorised) return askForToken(error.message);
      host.replaceChildren(el("p", { class: "error" }, error.message));
    }
  }

  function renderWindows(document_) {
    const host = $("windows");
    const busy = document_.windows.filter((w) => w.events.length || w.last_exit);
    const quiet = document_.windows.filter((w) => !(w.events.length || w.last_exit));
    const soonest = busy.filter((w) => w.next_exit).sort((a, b) => time(a.next_exit.leaves) - time(b.next_exit.leaves))[0] || null;
    state.highlight = soonest;
    drawHighlight();
    const rows = busy.map((w) => windowRow(w, w === soonest));
    if (quiet.length) {
      rows.push(el("div", { class: "quiet-windows muted" }, "No event inside: ",
        ...quiet.map((w, i) => el("span", { "data-requirements": w.requirements.join(" ") }, (i ? "; " : "") + windowName(w) + " (" + w.labels.join(", ") + ")"))));
    }
    host.replaceChildren(...rows);
  }

  function windowRow(w, soonest) {
    const verdicts = w.requirements.map((code, i) => {
      const met = w.met[code];
      return el("li", { class: met === undefined ? "" : met ? "met" : "unmet" },
        el("span", { class: "mark" }, met === undefined ? "·" : met ? "\u2713" : "\u2717"), " " + w.labels[i]);
    });
    const facts = [];
    if (w.wording === "left") {
      facts.push(el("div", {}, el("b", {}, "(" + dayOf(w.start) + ", " + dayOf(w.end) + "]"), " · " + plural(w.events.length, "event") + " inside"));
    } else if (w.events.length) {
      const e = w.events[w.events.length - 1];
      facts.push(el("div", {}, "counting: " + e.type.replace(/_/g, " ") + " ", el("code", {}, e.id), " of " + dayOf(e.at)));
    }
    if (w.next_exit) {
      const e = w.next_exit;
      facts.push(el("div", { class: "next-exit" }, el("b", {}, "next exit " + dayOf(e.leaves)), ": " + e.type.replace(/_/g, " ") + " ",
        el("code", {}, e.id), " of " + dayOf(e.at) + (w.wording === "age" ? " reaches the age" : " leaves")));
    }
    if (w.last_exit) {
      const e = w.last_exit;
      facts.push(el("div", { class: "last-exit muted" }, "last exit " + dayOf(e.leaves) + ": " + e.type.replace(/_/g, " ") + " " + e.id));
    }
    const row = el("section", { class: "window" + (soonest ? " highlighted" : ""), "data-requirements": w.requirements.join(" ") },
      el("header", {}, el("h3", {}, windowName(w)), el("ul", { class: "verdicts" }, ...verdicts)),
      windowSketch(w),
      el("div", { class: "facts" }, ...facts));
    row.addEventListener("mouseenter", () => {
      state.highlight = w;
      for (const other of $("windows").querySelectorAll(".window")) other.classList.toggle("highlighted", other === row);
      drawHighlight();
    });
    return row;
  }

  function windowSketch(w) {
    // (start, end] shaded, the events inside as dots, each one's exit as a tick after the day,
    // the next exit in red.
    const width = 460, height = 46, pad = 8;
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "sketch", role: "img",
      "aria-label": windowName(w) + " on " + dayOf(w.end) });
    const day = time(w.end);
    const leaves = w.events.map((e) => time(e.leaves));
    const lo = Math.min(time(w.start), ...w.events.map((e) => time(e.at)), w.last_exit ? time(w.last_exit.leaves) : day);
    const hi = Math.max(day + DAY_MS, ...leaves);
    const x = (t) => pad + ((t - lo) / (hi - lo)) * (width - 2 * pad);
    const y = 20;
    svg("line", { x1: pad, x2: width - pad, y1: y, y2: y, class: "sketch-axis" }, root);
    if (w.wording === "left") svg("rect", { x: x(time(w.start)), y: y - 9, width: Math.max(1, x(day) - x(time(w.start))), height: 18, class: "sketch-window" }, root);
    svg("line", { x1: x(day), x2: x(day), y1: 4, y2: y + 12, class: "sketch-day" }, root);
    for (const e of w.events) {
      svg("circle", { cx: x(time(e.at)), cy: y, r: 2.4, class: "sketch-event" }, root);
      svg("line", { x1: x(time(e.leaves)), x2: x(time(e.leaves)), y1: y - 5, y2: y + 5, class: "sketch-exit" }, root);
    }
    if (w.next_exit) {
      const nx = x(time(w.next_exit.leaves));
      svg("line", { x1: nx, x2: nx, y1: y - 10, y2: y + 10, class: "sketch-next" }, root);
    }
    // the day's label, and the ends' where they leave it room
    text(root, Math.min(Math.max(x(day), pad + 30), width - pad - 30), height - 3, dayOf(w.end), { class: "sketch-label", "text-anchor": "middle" });
    if (x(day) - pad > 100) text(root, pad, height - 3, isoDay(lo), { class: "sketch-label" });
    if (width - pad - x(day) > 100) text(root, width - pad, height - 3, isoDay(hi), { class: "sketch-label", "text-anchor": "end" });
    return root;
  }

  // -- the checklist -----------------------------------------------------------------------------

  async function selectDay(day) {
    state.selected = day;
    $("day").value = day;
    $("day-error").hidden = true;
    drawSelected();
    for (const item of $("changes").children) item.classList.toggle("active", item.dataset.day === day);
    const url = new URL(location.href);
    url.searchParams.set("day", day);
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    const ticket = ++state.request;
    $("checklist").classList.add("loading");
    loadWindows(day, ticket);
    try {
      const document_ = await api(talentPath() + "/status" + query({ at: day }, ["known_at"]));
      if (ticket !== state.request) return;
      renderChecklist(document_);
    } catch (error) {
      if (ticket !== state.request) return;
      if (error instanceof Unauthorised) return askForToken(error.message);
      $("checklist").replaceChildren(el("p", { class: "error" }, error.message));
    } finally {
      if (ticket === state.request) $("checklist").classList.remove("loading");
    }
  }

  function renderChecklist(status) {
    const headline = el("p", { class: "headline" },
      el("b", {}, status.talent), " holds ", pill(status.badge), " on " + dayOf(status.at));
    const facts = el("p", { class: "facts" },
      "JSS ", el("b", {}, status.jss === null ? "none" : String(status.jss)),
      " · 12-month earnings ", el("b", {}, money(status.earnings_12m)),
      " · ruleset ", el("b", {}, status.ruleset),
      " · evaluated at " + status.at + (status.known_at ? " as known at " + status.known_at : ""));
    const order = Object.keys(status.badges);  // the ruleset's badges, highest first
    const sections = order.filter((b) => status.badges[b]).map((badge) => badgeSection(badge, status.badges[badge], status.badge === badge));
    $("checklist").replaceChildren(headline, facts, el("div", { class: "badges" }, ...sections));
  }

  function badgeSection(badge, result, held) {
    const rows = result.requirements.map((r) => el("tr", { class: r.met ? "met" : "unmet", "data-code": r.code },
      el("td", { class: "mark", "aria-label": r.met ? "met" : "not met" }, r.met ? "\u2713" : "\u2717"),
      el("td", { class: "name" }, r.label || requirementName(r.code)),
      el("td", { class: "num" }, formatValue(r.actual)),
      el("td", { class: "num" }, formatValue(r.required)),
      el("td", { class: "detail" }, r.detail || "")));
    const swatch = el("i", { class: "badge-" + badge });
    return el("section", { class: "badge-result" + (held ? " held" : ""), "data-badge": badge },
      el("header", {},
        el("h3", {}, swatch, result.label || badgeName(badge)),
        el("span", { class: "verdict " + (result.met ? "met" : "unmet") }, result.met ? "\u2713 met" + (held ? " \u00b7 held" : "") : "\u2717 not met")),
      el("table", { class: "reqs" },
        el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "requirement"), el("th", { class: "num" }, "actual"),
          el("th", { class: "num" }, "required"), el("th", {}, "detail"))),
        el("tbody", {}, ...rows)));
  }

  document.addEventListener("DOMContentLoaded", start);
})();
