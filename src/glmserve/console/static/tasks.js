// Async tasks: the caller's own (all of them for the admin), newest first.
"use strict";

(() => {
  const { api, el, $, when, showError } = Console;

  async function show(task) {
    try {
      const result = await api("/api/paas/v4/async-result/" + task.id);
      $("#task-result").textContent = JSON.stringify(result, null, 2);
      $("#task-result").hidden = false;
    } catch (error) {
      showError("#tasks-error", error);
    }
  }

  async function load() {
    showError("#tasks-error", null);
    const me = Console.state.me;
    try {
      const tasks = (await api("/console/api/tasks")).data;
      $("#tasks-table tbody").replaceChildren(...tasks.map((t) => el("tr", { "data-task": t.id },
        el("td", { class: "mono", text: t.id }), el("td", { text: t.model }),
        el("td", { class: "mono", text: t.key.slice(0, 8) }),
        el("td", {}, el("span", { class: "badge " + t.task_status.toLowerCase(), text: t.task_status })),
        el("td", { text: when(t.created) }), el("td", { text: when(t.finished) }),
        // Results are read through the API, which gives a task only to its own key.
        el("td", {}, me.admin && !me.open ? "" : el("button", { type: "button", class: "link", text: "Result", onclick: () => show(t) })))));
      if (!tasks.length) $("#tasks-table tbody").append(el("tr", {}, el("td", { colspan: 7, text: "No async tasks." })));
    } catch (error) {
      showError("#tasks-error", error);
    }
  }

  Console.start(async () => {
    $("#refresh-tasks").addEventListener("click", load);
    await load();
  });
})();
