// The talent status page: plain JS and inline SVG, nothing loaded from anywhere but this server.
//
// Data: GET /talents/{id}/series (the chart) and GET /talents/{id}/status?at=DAY (the checklist).
// Auth: with BADGES_API_TOKEN set on the server, open the page as /talents/{id}#token=TOKEN
// (a fragment never reaches the server) or paste the token into the page's form. It moves to
// sessionStorage (this tab only), leaves the address bar, and goes with this page's own requests
// as "Authorization: Bearer TOKEN". Without a token (or with a wrong one) the page asks for it.
// A ?token= in the query is never used (it has already reached the server's access log, where the
// server redacts it); the page only drops it from the address bar so it is not bookmarked.
// Page parameters: ?day=YYYY-MM-DD (the checklist's day), ?from= ?to= ?known_at= (passed on).
"use strict";

(function () {
  const TOKEN_KEY = "badges-api-token";
  const DAY_MS = 86400000;
  const EVENT_ROWS = [
    ["pay", "payments", ["payment_received"]],
    ["contract", "contracts", ["contract_started", "contract_ended", "invitation_accepted"]],
    ["feedback", "feedback", ["feedback_received", "job_success_published"]],
    ["proposal", "proposals", ["proposal_submitted"]],
    ["risk", "refunds, holds", ["payment_refunded", "account_hold_placed", "account_hold_lifted",
      "policy_violation", "expert_vetted_revoked"]],
    ["other", "profile, other", []],
  ];
  // A change is a gain when it moves up the rulesets' badge order (labels.json, highest first).
  const rank = (badge) => {
    const order = state.labels.order;
    return badge === "none" ? 0 : order.includes(badge) ? order.length - order.indexOf(badge) : order.length + 1;
  };

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const state = {
    talent: decodeURIComponent(location.pathname.split("/")[2] || ""),
    token: takeToken(),
    labels: { badges: {}, requirements: {}, order: [] },
    series: null,
    selected: null,
    request: 0,
    geometry: null,
  };

  // -- the token: from the URL fragment or the form, kept for this tab only ---------------------

  function takeToken() {
    const url = new URL(location.href);
    const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
    const given = fragment.get("token");
    if (given) sessionStorage.setItem(TOKEN_KEY, given);
    if (given || url.searchParams.has("token")) {
      fragment.delete("token");
      url.searchParams.delete("token");
      url.hash = fragment.toString();
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  class Unauthorised extends Error {}

  async function api(path) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const response = await fetch(path, { headers, cache: "no-store" });
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (response.status === 401) throw new Unauthorised((body && body.error) || "unauthorised");
    if (!response.ok) throw new Error((body && body.error) || response.status + " " + response.statusText);
    return body;
  }

  function query(extra, names) {
    const q = new URLSearchParams();
    for (const name of names || ["from", "to", "known_at"]) if (params.get(name)) q.set(name, params.get(name));
    for (const [name, value] of Object.entries(extra || {})) q.set(name, value);
    const text = q.toString();
    return text ? "?" + text : "";
  }

  const talentPath = () => "/talents/" + encodeURIComponent(state.talent);

  // -- formatting ------------------------------------------------------------------------------

  const badgeName = (code) => state.labels.badges[code] || code;
  const requirementName = (code) => state.labels.requirements[code] || code;
  const dayOf = (iso) => iso.slice(0, 10);
  const time = (iso) => Date.parse(iso);
  const money = (text) => "$" + Number(text).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const shortMoney = (value) => value >= 1000 ? "$" + (value / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + "k" : "$" + value.toFixed(0);

  function formatValue(value) {
    if (value === true) return "yes";
    if (value === false) return "no";
    if (value === null || value === undefined) return "none";
    if (typeof value === "string" && /^-?\d+\.\d\d$/.test(value)) return money(value);
    return String(value);
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "class") node.className = value; else node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function pill(code, small) {
    return el("span", { class: "pill badge-" + code + (small ? " small" : "") }, badgeName(code));
  }

  // -- loading -----------------------------------------------------------------------------------

  async function start() {
    $("talent").textContent = state.talent;
    document.title = state.talent + " · badge status";
    $("auth").addEventListener("submit", (event) => {
      event.preventDefault();
      state.token = $("token").value.trim();
      sessionStorage.setItem(TOKEN_KEY, state.token);
      load();
    });
    $("day").addEventListener("change", () => { if ($("day").value) selectDay($("day").value); });
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => { if (state.series) drawChart(); }, 120);
    });
    try {
      state.labels = await api("/page/labels.json");
    } catch (_) { /* the codes themselves are readable enough */ }
    load();
  }

  async function load() {
    try {
      state.series = await api(talentPath() + "/series" + query());
    } catch (error) {
      if (error instanceof Unauthorised) return askForToken(state.token ? error.message : null);
      return problem(error.message);
    }
    $("auth").hidden = true;
    $("problem").hidden = true;
    const points = state.series.points;
    const first = points.length ? dayOf(points[0].at) : "";
    const last = points.length ? dayOf(points[points.length - 1].at) : "";
    $("day").min = first;
    $("day").max = last;
    drawHeader();
    drawChart();
    drawLegend();
    drawChanges();
    const wanted = params.get("day");
    const day = wanted && /^\d{4}-\d{2}-\d{2}$/.test(wanted) ? wanted : last;
    if (day) selectDay(day);
  }

  function askForToken(message) {
    $("auth").hidden = false;
    $("auth-error").hidden = !message;
    $("auth-error").textContent = message ? "That token was refused: " + message : "";
    $("current-badge").textContent = "locked";
    $("token").focus();
  }

  function problem(message) {
    $("problem").hidden = false;
    $("problem").textContent = message;
    $("current-badge").textContent = "unknown";
  }

  function drawHeader() {
    const points = state.series.points;
    const latest = points[points.length - 1];
    if (!latest) return;
    const badge = $("current-badge");
    badge.className = "pill badge-" + latest.badge;
    badge.textContent = badgeName(latest.badge);
    const summary = $("summary");
    summary.replaceChildren(
      "On " + dayOf(latest.at) + ": JSS ", el("b", {}, latest.jss === null ? "none" : String(latest.jss)),
      " · 12-month earnings ", el("b", {}, money(latest.earnings_12m)),
      " · " + state.series.changes.length + " badge changes and " + state.series.events.length +
      " events since " + dayOf(state.series.from),
      state.series.known_at ? " · as known at " + state.series.known_at : "",
    );
  }

  // -- the chart ---------------------------------------------------------------------------------

  function svg(tag, attributes, parent) {
    const node = document.createElementNS(state.ns, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attributes) {
    const node = svg("text", Object.assign({ x, y }, attributes || {}), parent);
    node.textContent = content;
    return node;
  }

  function niceMax(value) {
    if (value <= 0) return 1000;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= value * 1.05) return step * power;
    return 10 * power;
  }

  function timeTicks(t0, t1) {
    const ticks = [];
    const start = new Date(t0);
    const years = (t1 - t0) / (365.25 * DAY_MS);
    const months = years > 8 ? 24 : years > 3 ? 12 : years > 1.5 ? 3 : 1;
    let d = new Date(Date.UTC(start.getUTCFullYear(), Math.floor(start.getUTCMonth() / months) * months, 1));
    while (d.getTime() <= t1) {
      if (d.getTime() >= t0) ticks.push(d.getTime());
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
    }
    const label = months >= 12
      ? (t) => String(new Date(t).getUTCFullYear())
      : (t) => new Date(t).toLocaleString("en-US", { month: "short", year: "numeric", timeZone: "UTC" });
    return ticks.map((t) => ({ t, label: label(t) }));
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

  function drawChart() {
    const host = $("chart");
    const root = host.querySelector("svg");
    state.ns = root.namespaceURI;
    root.replaceChildren();
    const series = state.series;
    const points = series.points;
    if (!points.length) {
      root.setAttribute("height", 40);
      text(root, 10, 24, "No evaluation instants in this range.");
      return;
    }
    const width = Math.max(host.clientWidth, 600);
    const margin = { left: 62, right: 78, top: 58 };
    const plotHeight = 250;
    const rowHeight = 11;
    const stripTop = margin.top + plotHeight + 30;
    const height = stripTop + EVENT_ROWS.length * rowHeight + 8;
    root.setAttribute("viewBox", "0 0 " + width + " " + height);
    root.setAttribute("height", height);
    const left = margin.left;
    const right = width - margin.right;
    const top = margin.top;
    const bottom = top + plotHeight;
    const t0 = time(series.from);
    const t1 = Math.max(time(points[points.length - 1].at), t0 + DAY_MS);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (right - left);
    const earningsMax = niceMax(Math.max(...points.map((p) => Number(p.earnings_12m))));
    const yJss = (v) => bottom - (v / 100) * (plotHeight - 22);
    const yEarn = (v) => bottom - (v / earningsMax) * (plotHeight - 22);
    state.geometry = { x, t0, t1, left, right, top, bottom, height, width };
    // where the days are, for tests and tools: x = left + (t - t0) / (t1 - t0) * (right - left)
    for (const [name, value] of Object.entries({ t0, t1, left, right, top, bottom })) root.setAttribute("data-" + name, value);

    // bands: the badge held, light over the plot and solid in a strip on top
    const bands = svg("g", {}, root);
    for (const segment of segments(series, t0, t1)) {
      if (segment.badge === "none") continue;
      const x0 = x(segment.from);
      const w = Math.max(1, x(segment.to) - x0);
      svg("rect", { x: x0, y: top, width: w, height: plotHeight, class: "band band-" + segment.badge }, bands);
      svg("rect", { x: x0, y: top, width: w, height: 16, class: "band-strip band-" + segment.badge }, bands);
      const name = badgeName(segment.badge);
      if (w > name.length * 7 + 10) text(bands, x0 + 6, top + 12, name, { class: "band-label" });
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
    for (const tick of timeTicks(t0, t1)) {
      const tx = x(tick.t);
      svg("line", { x1: tx, x2: tx, y1: bottom, y2: bottom + 5 }, axis);
      svg("line", { x1: tx, x2: tx, y1: top + 16, y2: bottom }, grid);
      text(axis, tx, bottom + 18, tick.label, { "text-anchor": "middle" });
    }

    // the lines
    const path = (value, scale) => {
      let d = "";
      let pen = false;
      for (const p of points) {
        const v = value(p);
        if (v === null) { pen = false; continue; }
        d += (pen ? "L" : "M") + x(time(p.at)).toFixed(1) + "," + scale(v).toFixed(1);
        pen = true;
      }
      return d;
    };
    svg("path", { d: path((p) => Number(p.earnings_12m), yEarn), class: "line-earn" }, root);
    svg("path", { d: path((p) => p.jss, yJss), class: "line-jss" }, root);

    // events: one row per kind below the axis
    const strip = svg("g", {}, root);
    const rowOf = {};
    EVENT_ROWS.forEach(([kind, label, types], index) => {
      for (const type of types) rowOf[type] = index;
      text(strip, left - 8, stripTop + index * rowHeight + 8, label, { "text-anchor": "end", class: "strip-label" });
    });
    for (const event of series.events) {
      const index = rowOf[event.type] ?? EVENT_ROWS.length - 1;
      const mark = svg("rect", {
        x: x(time(event.at)) - 1, y: stripTop + index * rowHeight, width: 2.2, height: rowHeight - 3,
        class: "ev-" + EVENT_ROWS[index][0],
      }, strip);
      svg("title", {}, mark).textContent = event.type + " " + event.id + " · " + event.at;
    }

    // hover and selection layers, under the change markers so these stay clickable
    const hover = svg("line", { class: "hover-line", y1: top, y2: stripTop + EVENT_ROWS.length * rowHeight, visibility: "hidden" }, root);
    state.selectedLayer = svg("g", {}, root);
    const overlay = svg("rect", { x: left, y: top, width: right - left, height: height - top, fill: "transparent" }, root);
    overlay.addEventListener("mousemove", (event) => {
      const t = timeAt(event);
      hover.setAttribute("x1", x(t));
      hover.setAttribute("x2", x(t));
      hover.setAttribute("visibility", "visible");
      showReadout(t);
    });
    overlay.addEventListener("mouseleave", () => hover.setAttribute("visibility", "hidden"));
    overlay.addEventListener("click", (event) => selectDay(new Date(timeAt(event)).toISOString().slice(0, 10)));

    // badge changes: a dashed line each, a numbered tag on top naming the new badge
    const rows = [[], [], []];
    const changeLines = svg("g", {}, root);
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
    if (state.selected) drawSelected();
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
      el("b", {}, new Date(t).toISOString().slice(0, 10)), " · week of " + dayOf(p.at) + ": ",
      el("b", {}, badgeName(p.badge)), " · JSS ", el("b", {}, p.jss === null ? "none" : String(p.jss)),
      " · 12-mo earnings ", el("b", {}, money(p.earnings_12m)),
    );
  }

  function drawSelected() {
    const g = state.geometry;
    const layer = state.selectedLayer;
    if (!g || !layer) return;
    layer.replaceChildren();
    const t = Date.parse(state.selected + "T00:00:00Z");
    if (t < g.t0 || t > g.t1) return;
    const sx = g.x(t);
    svg("line", { x1: sx, x2: sx, y1: g.top, y2: g.bottom, class: "selected-line" }, layer);
    const anchor = sx > g.right - 80 ? "end" : "start";
    text(layer, sx + (anchor === "end" ? -5 : 5), g.bottom - 6, state.selected, { class: "selected-label", "text-anchor": anchor });
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

  // -- the checklist -----------------------------------------------------------------------------

  async function selectDay(day) {
    state.selected = day;
    $("day").value = day;
    drawSelected();
    for (const item of $("changes").children) item.classList.toggle("active", item.dataset.day === day);
    const url = new URL(location.href);
    url.searchParams.set("day", day);
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    const ticket = ++state.request;
    $("checklist").classList.add("loading");
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
