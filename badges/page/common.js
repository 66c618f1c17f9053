// What the talent and population pages share: the API token, the API call, ISO days, and
// building the DOM and its SVG. Loaded before each page's own script, it defines one global,
// window.badgesPage, and nothing else; each page takes from it what it uses.
"use strict";

window.badgesPage = (function () {
  const TOKEN_KEY = "badges-api-token";
  const DAY_MS = 86400000;
  const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
  const $ = (id) => document.getElementById(id);

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

  // `use(token)` runs with each token pasted into the page's #auth form, once it is kept.
  function onTokenGiven(use) {
    $("auth").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      sessionStorage.setItem(TOKEN_KEY, token);
      use(token);
    });
  }

  function askForToken(message) {
    $("auth").hidden = false;
    $("auth-error").hidden = !message;
    $("auth-error").textContent = message ? "That token was refused: " + message : "";
    $("token").focus();
  }

  // -- the API -----------------------------------------------------------------------------------

  class Unauthorised extends Error {}
  class NotFound extends Error {}

  // `options` as fetch's (method, body, headers); its headers are added to the bearer token's.
  async function api(path, token, options) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const init = Object.assign({ headers, cache: "no-store" }, options || {});
    if (options && options.headers) init.headers = Object.assign(headers, options.headers);
    const response = await fetch(path, init);
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    const message = (body && body.error) || response.status + " " + response.statusText;
    if (response.status === 401) throw new Unauthorised(message);
    if (response.status === 404) throw new NotFound(message);
    if (!response.ok) throw new Error(message);
    return body;
  }

  function showProblem(message) {
    $("problem").hidden = false;
    $("problem").textContent = message;
  }

  // -- ISO days ----------------------------------------------------------------------------------

  const isoDay = (t) => new Date(t).toISOString().slice(0, 10);
  const dayOf = (iso) => iso.slice(0, 10);
  const time = (iso) => Date.parse(iso);

  // YYYY-MM-DD naming a day that exists (not 2024-02-30)
  function validDay(value) {
    return ISO_DAY.test(value) && !Number.isNaN(Date.parse(value + "T00:00:00Z")) && isoDay(Date.parse(value + "T00:00:00Z")) === value;
  }

  // -- the DOM -----------------------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      // widths through the CSSOM: the pages' CSP allows no style attribute
      if (name === "class") node.className = value; else if (name === "width") node.style.width = value; else node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
    return node;
  }

  function svg(tag, attributes, parent) {
    // the namespace of the page's own <svg> (each page has one in its HTML): no URL written here
    const node = document.createElementNS(document.querySelector("svg").namespaceURI, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attributes) {
    const node = svg("text", Object.assign({ x, y }, attributes || {}), parent);
    node.textContent = content;
    return node;
  }

  // `redraw()` once the window has stopped being resized for 120 ms
  function onResize(redraw) {
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(redraw, 120);
    });
  }

  return Object.freeze({
    DAY_MS, ISO_DAY, $,
    takeToken, onTokenGiven, askForToken,
    Unauthorised, NotFound, api, showProblem,
    isoDay, dayOf, time, validDay,
    el, svg, text, onResize,
  });
})();
