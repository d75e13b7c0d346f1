// API keys: the admin creates, lists, revokes and tops up (the admin API); a key's
// holder sees that key. A key on a Coding Plan shows its windows filling (docs/plans.md).
"use strict";

(() => {
  const { api, el, $, usd, when, showError } = Console;

  function meter(used, limit) {
    const bar = el("span", {});
    bar.style.width = (limit ? Math.min(100, (100 * used) / limit) : 0) + "%";
    return el("span", { class: "meter" }, bar);
  }

  function planCell(key, usage) {
    const cell = el("td", { class: "plan" });
    if (!key.plan) return cell;
    cell.append(el("div", { text: key.plan + (key.plan_expires_at ? " until " + when(key.plan_expires_at) : "") }));
    if (!usage) return cell;
    const windows = [["5 hours", usage.windows.five_hour], ["week", usage.windows.week]];
    const meters = el("div", { class: "meters" });
    for (const [name, w] of windows) {
      const label = name + " " + w.used + " / " + (w.limit || "∞");
      meters.append(el("span", { class: "window", text: label }), meter(w.used, w.limit));
    }
    cell.append(meters);
    return cell;
  }

  function row(key, admin, usage) {
    const actions = el("div", { class: "actions" });
    if (admin && !key.revoked_at) {
      const amount = el("input", { type: "number", min: "0.01", step: "0.01", placeholder: "USD", class: "amount", "aria-label": "top-up amount" });
      actions.append(
        amount,
        el("button", { type: "button", class: "secondary", text: "Top up", onclick: () => topUp(key, amount.value) }),
        el("button", { type: "button", class: "danger", text: "Revoke", onclick: () => revoke(key) }),
      );
    }
    return el("tr", { "data-key": key.id },
      el("td", { text: key.name }), el("td", { class: "mono", text: key.id }),
      el("td", { text: key.tier }), el("td", { class: "balance", text: usd(key.balance) }),
      el("td", { text: when(key.created_at) }),
      el("td", { class: "status", text: key.revoked_at ? "revoked " + when(key.revoked_at) : key.status || "active" }),
      planCell(key, usage),
      el("td", {}, actions));
  }

  async function load() {
    const me = Console.state.me;
    const keys = me.admin ? (await api("/admin/keys")).data : me.key ? [me.key] : [];
    const usage = await Promise.all(keys.map((k) =>
      !k.plan ? null : me.admin ? api("/admin/keys/" + k.id + "/plan") : me.plan));
    const body = $("#keys-table tbody");
    body.replaceChildren(...keys.map((k, i) => row(k, me.admin, usage[i])));
    if (!keys.length) body.append(el("tr", {}, el("td", { colspan: 8, text: "No keys (the server runs in open mode)." })));
  }

  async function act(work) {
    showError("#keys-error", null);
    try {
      await work();
      await load();
    } catch (error) {
      showError("#keys-error", error);
    }
  }

  const revoke = (key) => {
    if (confirm("Revoke the key " + key.name + "? Requests with it fail from now on.")) {
      act(() => api("/admin/keys/" + key.id + "/revoke", { method: "POST" }));
    }
  };

  const topUp = (key, amount) =>
    act(() => api("/admin/keys/" + key.id + "/top-up", { method: "POST", body: JSON.stringify({ amount }) }));

  async function create(event) {
    event.preventDefault();
    const body = { name: $("#key-name").value.trim(), tier: $("#key-tier").value };
    if ($("#key-balance").value !== "") body.balance = $("#key-balance").value;
    await act(async () => {
      const issued = await api("/admin/keys", { method: "POST", body: JSON.stringify(body) });
      $("#new-key-value").textContent = issued.api_key;
      $("#new-key").hidden = false;
      $("#key-name").value = "";
    });
  }

  Console.start(async (me) => {
    if (me.admin) {
      $("#create-key-card").hidden = false;
      $("#create-key").addEventListener("submit", create);
      $("#copy-new-key").addEventListener("click", () =>
        navigator.clipboard.writeText($("#new-key-value").textContent).catch(() => {}));
      $("#use-new-key").addEventListener("click", () => {
        sessionStorage.setItem(Console.CHAT_KEY, $("#new-key-value").textContent);
        location.href = "/console/playground";
      });
    }
    await load();
  });
})();
