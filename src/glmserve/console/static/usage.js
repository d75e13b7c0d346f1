// Usage: the rows of the usage report (the admin API's rows, narrowed to the caller's
// key unless admin) as charts per day, model and key, a table and a CSV file.
"use strict";

(() => {
  const { api, el, $, num, showError } = Console;
  const FIELDS = ["day", "model", "key", "requests", "errors", "cancelled",
    "prompt_tokens", "cached_tokens", "completion_tokens", "cost"];
  let rows = [];

  function query() {
    const params = new URLSearchParams();
    const pairs = { since: "#since", until: "#until", model: "#usage-model", key: "#usage-key" };
    for (const [name, selector] of Object.entries(pairs)) {
      const value = $(selector).value.trim();
      if (value) params.set(name, value);
    }
    return params.toString();
  }

  // Sums of the token columns and cost by one column, in the column's order.
  function by(column) {
    const groups = new Map();
    for (const r of rows) {
      const g = groups.get(r[column]) || { prompt: 0, cached: 0, completion: 0, cost: 0 };
      g.prompt += r.prompt_tokens;
      g.cached += r.cached_tokens;
      g.completion += r.completion_tokens;
      g.cost += Number(r.cost);
      groups.set(r[column], g);
    }
    const names = [...groups.keys()].sort();
    return { names, groups: names.map((n) => groups.get(n)) };
  }

  function tokenChart(selector, column, short) {
    const { names, groups } = by(column);
    Chart.bars($(selector), names.map(short || ((n) => n)), [
      { name: "prompt (not cached)", color: "#4c78a8", values: groups.map((g) => g.prompt - g.cached) },
      { name: "cached", color: "#72b7b2", values: groups.map((g) => g.cached) },
      { name: "completion", color: "#f58518", values: groups.map((g) => g.completion) },
    ]);
  }

  function render() {
    tokenChart("#chart-day", "day");
    tokenChart("#chart-model", "model");
    tokenChart("#chart-key", "key", (id) => id.slice(0, 8));
    const days = by("day");
    Chart.bars($("#chart-cost"), days.names,
      [{ name: "cost", color: "#54a24b", values: days.groups.map((g) => g.cost) }],
      (n) => "$" + Number(n).toFixed(4));
    const total = (f) => rows.reduce((s, r) => s + Number(r[f]), 0);
    $("#totals").replaceChildren(
      ...[["requests", num(total("requests"))], ["prompt tokens", num(total("prompt_tokens"))],
        ["cached tokens", num(total("cached_tokens"))], ["completion tokens", num(total("completion_tokens"))],
        ["cost (USD)", total("cost").toFixed(6)]]
        .map(([label, value]) => el("div", { class: "total" }, el("span", { text: label }), el("strong", { "data-total": label, text: value }))));
    $("#usage-table tbody").replaceChildren(...rows.map((r) =>
      el("tr", {}, ...FIELDS.map((f) => el("td", { class: f === "key" ? "mono" : null, text: typeof r[f] === "number" ? num(r[f]) : r[f] })))));
  }

  async function load() {
    showError("#usage-error", null);
    try {
      rows = (await api("/console/api/usage?" + query())).data;
    } catch (error) {
      showError("#usage-error", error);
      rows = [];
    }
    render();
  }

  // A text cell that a spreadsheet would read as a formula (=, +, -, @, tab, CR first:
  // a model code a client chose) gets a leading apostrophe, so it stays text.
  function cell(v) {
    let text = String(v);
    if (typeof v === "string" && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function csv() {
    const text = [FIELDS.join(",")].concat(rows.map((r) => FIELDS.map((f) => cell(r[f])).join(","))).join("\n") + "\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "glmserve-usage.csv" });
    document.body.append(link);
    link.click();
    link.remove();
  }

  Console.start(async (me) => {
    $("#usage-key-label").hidden = !me.admin;
    $("#usage-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    $("#export-csv").addEventListener("click", csv);
    await load();
  });
})();
