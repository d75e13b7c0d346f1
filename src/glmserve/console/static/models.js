// Models and workers: each served model's engine state, read every 2 seconds; tokens/s
// is the change of the generated-token counter between two reads.
"use strict";

(() => {
  const { api, el, $, num, pct, showError } = Console;
  const last = new Map(); // model -> [time ms, generated tokens]

  function rate(model, generated) {
    const now = performance.now();
    const before = last.get(model);
    last.set(model, [now, generated]);
    if (!before || now <= before[0]) return "…";
    return ((generated - before[1]) / ((now - before[0]) / 1000)).toFixed(1);
  }

  function meter(ratio) {
    const bar = el("span");
    bar.style.width = Math.min(100, 100 * ratio).toFixed(1) + "%"; // CSSOM: allowed by the CSP
    return el("span", { class: "meter" }, bar);
  }

  function health(m) {
    if (!m.workers.length) return m.up ? "up" : "unknown";
    const up = m.workers.filter((w) => w.health === "up").length;
    return up === m.workers.length ? "up" : up ? "degraded" : "down";
  }

  function card(m) {
    const s = m.stats;
    const state = health(m);
    const facts = [
      ["engine", m.engine], ["context", num(m.context_size)], ["health", state],
      ["running", s.running + " / " + m.max_running], ["queue", s.waiting + " / " + m.queue_limit],
      ["KV use", pct(m.kv_usage)], ["cache hit ratio", pct(m.cache_hit_ratio)],
      ["tokens/s", rate(m.model, s.generated_tokens)], ["generated", num(s.generated_tokens)],
      ["prompt tokens", num(s.prompt_tokens)], ["cached tokens", num(s.cached_tokens)],
      ["finished", num(s.finished)], ["cancelled", num(s.cancelled)], ["restarts", num(s.restarts)],
    ];
    const caps = Object.entries(m.capabilities).filter(([, v]) => v).map(([k]) => k).join(", ") || "none";
    const node = el("section", { class: "card model", "data-model": m.model, "data-health": state },
      el("h2", {}, m.model, " ", el("span", { class: "badge " + state, text: state })),
      el("p", { class: "hint", text: "capabilities: " + caps + " · template: " + m.template }),
      el("dl", {}, ...facts.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { "data-fact": k }, String(v))))),
      el("div", { class: "meters" }, el("span", { text: "KV" }), meter(m.kv_usage),
        el("span", { text: "cache hits" }), meter(m.cache_hit_ratio)));
    if (m.workers.length) {
      node.append(el("table", { class: "workers" },
        el("thead", {}, el("tr", {}, ...["worker", "kind", "health", "in flight", "routed", "errors", "cached / prompt", "generated", "last error"].map((h) => el("th", { text: h })))),
        el("tbody", {}, ...m.workers.map((w) => el("tr", { "data-worker": w.url },
          el("td", { class: "mono", text: w.url }), el("td", { text: w.kind }),
          el("td", {}, el("span", { class: "badge " + w.health, text: w.health })),
          el("td", { text: w.in_flight + " / " + w.max_in_flight }), el("td", { text: num(w.routed) }),
          el("td", { text: num(w.errors) }), el("td", { text: num(w.cached_tokens) + " / " + num(w.prompt_tokens) }),
          el("td", { text: num(w.generated_tokens) }), el("td", { text: w.last_error || "" }))))));
    }
    return node;
  }

  async function refresh() {
    try {
      const status = await api("/console/api/status");
      $("#models").replaceChildren(...status.data.map(card));
      showError("#models-error", null);
    } catch (error) {
      showError("#models-error", error);
    }
  }

  Console.start(async () => {
    await refresh();
    setInterval(refresh, 2000);
  });
})();
