// API keys: the admin creates, lists, revokes and tops up (the admin API); a key's
// holder sees that key.
"use strict";

(() => {
  const { api, el, $, usd, when, showError } = Console;

  function row(key, admin) {
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
      el("td", { class: "status", text: key.revoked_at ? "revoked " + when(key.revoked_at) : "active" }),
      el("td", {}, actions));
  }

  async function load() {
    const me = Console.state.me;
    const keys = me.admin ? (await api("/admin/keys")).data : me.key ? [me.key] : [];
    const body = $("#keys-table tbody");
    body.replaceChildren(...keys.map((k) => row(k, me.admin)));
    if (!keys.length) body.append(el("tr", {}, el("td", { colspan: 7, text: "No keys (the server runs in open mode)." })));
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
