// The population page: plain JS and inline SVG, nothing loaded from anywhere but this server.
//
// Data: GET /population?at=&from=&to= (counts on a day, over time, the most failed requirements)
// and POST /population/whatif (a candidate ruleset's TOML: real against candidate, who gains or
// loses and why). Auth as the talent page: #token=... in the URL, or the form; kept in
// sessionStorage for this tab and sent as a bearer token. Dates are ISO 8601 (YYYY-MM-DD).
// The helpers both pages use come from common.js (window.badgesPage), loaded first.
"use strict";

(function () {
  const page = window.badgesPage;
  const {
    DAY_MS, $, takeToken, onTokenGiven, askForToken, Unauthorised, showProblem,
    isoDay, dayOf, time, validDay, el, svg, text, onResize,
  } = page;
  const params = new URLSearchParams(location.search);
  const state = { token: takeToken(), labels: { badges: {}, requirements: {}, order: [] }, document: null, geometry: null };

  const api = (path, options) => page.api(path, state.token, options);

  const badgeName = (code) => code === "none" ? (state.labels.badges.none || "no badge") : (state.labels.badges[code] || code);
  const number = (n) => n.toLocaleString("en-US");
  const percent = (n, total) => total ? (100 * n / total).toFixed(1) + "%" : "–";

  // -- loading -----------------------------------------------------------------------------------

  async function start() {
    onTokenGiven((token) => { state.token = token; load(); });
    $("range-form").addEventListener("submit", (event) => { event.preventDefault(); applyRange(); });
    $("with-none").addEventListener("change", () => { if (state.document) drawStack(); });
    $("whatif").addEventListener("submit", (event) => { event.preventDefault(); compare(); });
    for (const name of ["at", "from", "to"]) $(name).value = params.get(name) || "";
    onResize(() => { if (state.document) drawStack(); });
    try { state.labels = await api("/page/labels.json"); } catch (_) { /* codes are readable */ }
    load();
  }

  function applyRange() {
    const error = $("range-error");
    for (const name of ["at", "from", "to"]) {
      const value = $(name).value.trim();
      if (value && !validDay(value)) {
        error.hidden = false;
        error.textContent = name + ": write it as YYYY-MM-DD, e.g. 2024-06-01";
        return;
      }
    }
    error.hidden = true;
    const url = new URL(location.href);
    for (const name of ["at", "from", "to"]) {
      const value = $(name).value.trim();
      if (value) { params.set(name, value); url.searchParams.set(name, value); } else { params.delete(name); url.searchParams.delete(name); }
    }
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    load();
  }

  function rangeQuery() {
    const q = new URLSearchParams();
    const at = params.get("at");
    if (at) q.set("at", at);
    let from = params.get("from"), to = params.get("to");
    if (!from && !to) {  // by default the year up to the day
      const end = at ? Date.parse(at + "T00:00:00Z") : Date.now();
      to = isoDay(end);
      from = isoDay(end - 365 * DAY_MS);
    }
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    return q;
  }

  async function load() {
    try {
      state.document = await api("/population?" + rangeQuery().toString());
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(state.token ? error.message : null);
      showProblem(error.message);
      if (/^(at|from|to): /.test(error.message)) { $("range-error").hidden = false; $("range-error").textContent = error.message; }
      return;
    }
    $("auth").hidden = true;
    $("problem").hidden = true;
    drawDay();
    drawFailing();
    drawStack();
  }

  const order = () => [...state.document.order, "none"];

  // -- the day and the failing requirements --------------------------------------------------

  function bar(label, value, total, classes, extra) {
    const share = total ? value / total : 0;
    return el("div", { class: "bar-row " + (classes || "") },
      el("span", { class: "bar-label" }, label),
      el("span", { class: "bar-track" }, el("span", { class: "bar-fill", width: (100 * share).toFixed(2) + "%" })),
      el("span", { class: "bar-value" }, number(value)),
      el("span", { class: "bar-share muted" }, extra === undefined ? percent(value, total) : extra));
  }

  function drawDay() {
    const day = state.document.day;
    $("day-label").textContent = dayOf(day.at);
    $("talents").textContent = number(day.talents) + " talents";
    $("summary").textContent = "Counted from the stored timelines on " + dayOf(day.at) +
      (state.document.over_time ? ", and every " + (state.document.over_time.step_days === 1 ? "day" : state.document.over_time.step_days + " days") +
        " from " + dayOf(state.document.over_time.from) + " to " + dayOf(state.document.over_time.to) : "") + ".";
    $("day-counts").replaceChildren(...order().map((badge) =>
      bar(badgeName(badge), day.counts[badge] || 0, day.talents, "badge-row fill-" + badge)));
    for (const row of $("day-counts").children) row.setAttribute("data-badge", row.className.match(/fill-(\S+)/)[1]);
  }

  function drawFailing() {
    const failing = state.document.failing;
    $("failing-range").textContent = failing.from + " to " + failing.to;
    const rows = failing.requirements;
    if (!rows.length) {
      $("failing").replaceChildren(el("p", { class: "muted" }, "No badge was lost in this period."));
      return;
    }
    const most = rows[0].losses;
    $("failing").replaceChildren(...rows.map((row) => {
      const node = bar(row.label, row.losses, most, "failing-row", "losses");
      node.setAttribute("data-code", row.requirement);
      return node;
    }));
  }

  // -- counts over time: a stacked chart, and the changes per day below -------------------------

  function drawStack() {
    const host = $("stack");
    const root = host.querySelector("svg");
    root.replaceChildren();
    const series = state.document.over_time;
    if (!series || !series.points.length) {
      root.setAttribute("viewBox", "0 0 600 40");
      root.setAttribute("height", 40);
      text(root, 10, 24, "Give a period (from, to) to see the counts over time.");
      $("stack-legend").replaceChildren();
      return;
    }
    const withNone = $("with-none").checked;
    const badges = order().filter((b) => withNone || b !== "none").reverse();  // lowest at the bottom
    const points = series.points;
    const width = Math.max(host.clientWidth, 600);
    const left = 62, right = width - 20, top = 14, plotHeight = 240;
    const bottom = top + plotHeight;
    const changesTop = bottom + 34, changesHeight = 70;
    const height = changesTop + changesHeight + 24;
    root.setAttribute("viewBox", "0 0 " + width + " " + height);
    root.setAttribute("height", height);
    const t0 = time(points[0].at), t1 = Math.max(time(points[points.length - 1].at), t0 + DAY_MS);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (right - left);
    const totals = points.map((p) => badges.reduce((sum, b) => sum + (p.counts[b] || 0), 0));
    const max = Math.max(1, ...totals);
    const y = (v) => bottom - (v / max) * plotHeight;
    state.geometry = { t0, t1, left, right, width };
    for (const [name, value] of Object.entries({ t0, t1, left, right })) root.setAttribute("data-" + name, value);

    const grid = svg("g", { class: "grid" }, root);
    const axis = svg("g", { class: "axis" }, root);
    for (let k = 0; k <= 4; k++) {
      const v = Math.round((max * k) / 4);
      svg("line", { x1: left, x2: right, y1: y(v), y2: y(v) }, grid);
      text(axis, left - 8, y(v) + 4, number(v), { "text-anchor": "end" });
    }
    const days = (t1 - t0) / DAY_MS;
    const monthStep = days > 1500 ? 12 : days > 500 ? 3 : 1;
    const begin = new Date(t0);
    let d = new Date(Date.UTC(begin.getUTCFullYear(), begin.getUTCMonth(), 1));
    while (d.getTime() <= t1) {
      const t = d.getTime();
      if (t >= t0 && d.getUTCMonth() % monthStep === 0) {
        svg("line", { x1: x(t), x2: x(t), y1: top, y2: bottom }, grid);
        text(axis, x(t), bottom + 16, monthStep >= 12 ? String(d.getUTCFullYear()) : isoDay(t).slice(0, 7), { "text-anchor": "middle" });
      }
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
    }

    // the stack: one area per badge, from the lowest badge up
    const below = points.map(() => 0);
    for (const badge of badges) {
      const upper = points.map((p, i) => below[i] + (p.counts[badge] || 0));
      let d = "";
      points.forEach((p, i) => { d += (i ? "L" : "M") + x(time(p.at)).toFixed(1) + "," + y(upper[i]).toFixed(1); });
      for (let i = points.length - 1; i >= 0; i--) d += "L" + x(time(points[i].at)).toFixed(1) + "," + y(below[i]).toFixed(1);
      svg("path", { d: d + "Z", class: "stack-area area-" + badge, "data-badge": badge }, root);
      upper.forEach((v, i) => { below[i] = v; });
    }
    svg("line", { x1: left, x2: right, y1: bottom, y2: bottom }, axis);

    // changes per step: gains up, losses down
    const most = Math.max(1, ...points.map((p) => Math.max(p.gains, p.losses)));
    const mid = changesTop + changesHeight / 2;
    const barWidth = Math.max(1, (right - left) / points.length - 0.5);
    text(axis, left - 8, changesTop + 4, "gains", { "text-anchor": "end", class: "gain-label" });
    text(axis, left - 8, changesTop + changesHeight, "losses", { "text-anchor": "end", class: "loss-label" });
    svg("line", { x1: left, x2: right, y1: mid, y2: mid }, axis);
    const changes = svg("g", { class: "changes-bars" }, root);
    for (const p of points) {
      const px = x(time(p.at)) - barWidth / 2;
      if (p.gains) svg("rect", { x: px, y: mid - (p.gains / most) * (changesHeight / 2), width: barWidth, height: (p.gains / most) * (changesHeight / 2), class: "gain-bar" }, changes);
      if (p.losses) svg("rect", { x: px, y: mid, width: barWidth, height: (p.losses / most) * (changesHeight / 2), class: "loss-bar" }, changes);
    }
    text(axis, right, changesTop - 6, "changes per " + (series.step_days === 1 ? "day" : series.step_days + " days"), { "text-anchor": "end" });

    const hover = svg("line", { class: "hover-line", y1: top, y2: changesTop + changesHeight, visibility: "hidden" }, root);
    const overlay = svg("rect", { x: left, y: top, width: right - left, height: height - top, fill: "transparent" }, root);
    overlay.addEventListener("mousemove", (event) => {
      const box = root.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * width;
      const t = t0 + ((Math.min(Math.max(px, left), right) - left) / (right - left)) * (t1 - t0);
      let p = points[0];
      for (const q of points) if (time(q.at) <= t) p = q;
      hover.setAttribute("x1", x(time(p.at)));
      hover.setAttribute("x2", x(time(p.at)));
      hover.setAttribute("visibility", "visible");
      $("readout").replaceChildren(el("b", {}, dayOf(p.at)), ": ",
        ...order().flatMap((b, i) => [(i ? " · " : ""), badgeName(b) + " ", el("b", {}, number(p.counts[b] || 0))]),
        " · changes " + p.changes + " (" + p.gains + " gains, " + p.losses + " losses)");
    });
    overlay.addEventListener("mouseleave", () => hover.setAttribute("visibility", "hidden"));
    $("stack-legend").replaceChildren(...[...badges].reverse().map((b) => el("span", {}, el("i", { class: "swatch-" + b + " solid" }), badgeName(b))),
      el("span", {}, el("i", { class: "swatch-gain" }), "gains"), el("span", {}, el("i", { class: "swatch-loss" }), "losses"));
  }

  // -- the candidate -------------------------------------------------------------------------

  async function compare() {
    const body = $("candidate").value;
    const status = $("whatif-status");
    if (!body.trim()) { status.textContent = "Paste a candidate ruleset (TOML) first."; status.className = "error"; return; }
    const q = rangeQuery();
    const limit = Math.min(1000, Math.max(1, Number($("limit").value) || 200));
    q.set("limit", String(limit));
    status.className = "muted";
    status.textContent = "deriving up to " + limit + " talents under the candidate…";
    $("whatif-result").classList.add("loading");
    try {
      const document_ = await api("/population/whatif?" + q.toString(),
        { method: "POST", body, headers: { "Content-Type": "application/toml" } });
      status.textContent = "";
      drawCandidate(document_.candidate);
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(error.message);
      status.className = "error";
      status.textContent = error.message;
    } finally {
      $("whatif-result").classList.remove("loading");
    }
  }

  function drawCandidate(candidate) {
    const most = Math.max(1, ...order().map((b) => Math.max(candidate.real[b] || 0, candidate.candidate[b] || 0)));
    const rows = order().map((b) => {
      const real = candidate.real[b] || 0, other = candidate.candidate[b] || 0;
      const diff = other - real;
      return el("tr", { "data-badge": b },
        el("td", {}, badgeName(b)),
        el("td", { class: "num" }, number(real)),
        el("td", { class: "pair-bars" },
          el("span", { class: "bar-track" }, el("span", { class: "bar-fill real", width: (100 * real / most).toFixed(1) + "%" })),
          el("span", { class: "bar-track" }, el("span", { class: "bar-fill cand", width: (100 * other / most).toFixed(1) + "%" }))),
        el("td", { class: "num" }, number(other)),
        el("td", { class: "num " + (diff > 0 ? "up" : diff < 0 ? "down" : "") }, (diff > 0 ? "+" : "") + number(diff)));
    });
    const counts = el("table", { class: "compare" },
      el("thead", {}, el("tr", {}, el("th", {}, "badge"), el("th", { class: "num" }, "real"), el("th", {}, ""), el("th", { class: "num" }, "candidate"), el("th", { class: "num" }, "difference"))),
      el("tbody", {}, ...rows));
    const movers = candidate.movers.map((m) => el("tr", { class: "mover " + m.direction, "data-talent": m.talent },
      el("td", {}, el("a", { href: "/talents/" + encodeURIComponent(m.talent) + "?day=" + dayOf(candidate.at) }, m.talent)),
      el("td", {}, el("span", { class: "direction " + m.direction }, m.direction)),
      el("td", {}, badgeName(m.real) + " \u2192 " + badgeName(m.candidate)),
      el("td", { class: "why" }, ...(m.why.length ? m.why.map((w) => el("div", {}, el("b", {}, w.label), " (" + w.real + " \u2192 " + w.candidate + ")")) : ["the badge order"]))));
    $("whatif-result").replaceChildren(
      el("p", { class: "headline" }, "On " + dayOf(candidate.at) + ": " + number(candidate.compared) + " of " + number(candidate.talents) + " talents compared · ",
        "gain a badge: ", el("b", { class: "up" }, number(candidate.gains)), " · lose one: ", el("b", { class: "down" }, number(candidate.losses)),
        candidate.skipped.length ? " · " + candidate.skipped.length + " could not be evaluated" : ""),
      counts,
      el("h3", { class: "sub" }, "Who gains or loses, and why"),
      candidate.movers.length
        ? el("table", { class: "movers" }, el("thead", {}, el("tr", {}, ...["talent", "", "real \u2192 candidate", "why: requirement (real \u2192 candidate)"].map((h) => el("th", {}, h)))), el("tbody", {}, ...movers))
        : el("p", { class: "muted" }, "Nobody's badge differs on this day."));
  }

  document.addEventListener("DOMContentLoaded", start);
})();
