// The console's shared part: sign-in, the API client and small DOM helpers.
// The key lives in sessionStorage (this tab only) and goes out only in the
// Authorization header of requests to this server; it is never written anywhere else.
"use strict";

const Console = (() => {
  const KEY = "glmserve.key";
  const CHAT_KEY = "glmserve.chatKey";
  const state = { me: null };

  const key = () => sessionStorage.getItem(KEY);

  function headers(token, extra) {
    const h = Object.assign({}, extra || {});
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  // fetch() on this server with the signed-in key; the Z.AI error body becomes an Error.
  async function api(path, options) {
    const opts = Object.assign({}, options || {});
    const token = opts.token !== undefined ? opts.token : key();
    delete opts.token;
    opts.headers = headers(token, opts.body ? { "Content-Type": "application/json" } : {});
    const response = await fetch(path, opts);
    if (!response.ok) throw await apiError(response);
    return opts.raw ? response : response.json();
  }

  // A generated image's or video's bytes, read with the key (a result URL may want it:
  // docs/images.md), as a blob: URL for <img> and <video>, which the CSP allows.
  async function blobUrl(url) {
    const response = await api(url, { raw: true });
    return URL.createObjectURL(await response.blob());
  }

  async function apiError(response) {
    let message = response.status + " " + response.statusText;
    try {
      const body = await response.json();
      const err = body.error || {};
      if (err.message) message = err.message + (err.code ? " (code " + err.code + ")" : "");
    } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    return error;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const $ = (selector) => document.querySelector(selector);
  const num = (n) => Number(n || 0).toLocaleString("en-US");
  const usd = (s) => (s === null || s === undefined ? "unlimited" : Number(s).toFixed(6));
  const pct = (r) => (100 * Number(r || 0)).toFixed(1) + "%";
  const when = (seconds) =>
    seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) : "";

  function showError(selector, error) {
    const node = $(selector);
    if (node) node.textContent = error ? String(error.message || error) : "";
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(CHAT_KEY);
    location.reload();
  }

  function showSignIn(message) {
    $("#content").hidden = true;
    $("#sign-in").hidden = false;
    $("#sign-in-error").textContent = message || "";
    $("#sign-in-key").focus();
  }

  // Who is signed in, then the page's own start function; the sign-in form otherwise.
  async function start(ready) {
    $("#sign-out").addEventListener("click", signOut);
    $("#sign-in-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, $("#sign-in-key").value.trim());
      $("#sign-in-key").value = "";
      await enter(ready);
    });
    if (key() === null) showSignIn();
    else await enter(ready);
  }

  async function enter(ready) {
    try {
      state.me = await api("/console/api/me");
    } catch (error) {
      sessionStorage.removeItem(KEY);
      showSignIn(error.message);
      return;
    }
    const me = state.me;
    $("#who").textContent = me.admin ? "admin" : me.key ? "key " + me.key.name : "open access";
    $("#who").dataset.role = me.admin ? "admin" : "user";
    $("#sign-out").hidden = false;
    $("#sign-in").hidden = true;
    $("#content").hidden = false;
    await ready(me);
  }

  return { api, apiError, blobUrl, el, $, num, usd, pct, when, showError, start, key, headers, CHAT_KEY, state };
})();
