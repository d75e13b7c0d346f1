// Async tasks: the caller's own (all of them for the admin), newest first.
"use strict";

(() => {
  const { api, blobUrl, el, $, when, showError } = Console;
  let media = null; // model code -> "image" | "video", from /models

  // A finished image or video task's result: a thumbnail (the image, or the video's
  // cover) linking to the file, read through the API as the task's own key.
  async function preview(task, cell) {
    try {
      const result = await api("/api/paas/v4/async-result/" + task.id);
      const item = (result.video_result || result.image_result || [])[0];
      if (!item) return;
      const thumb = el("img", { class: "thumb", alt: media[task.model] + " result" });
      const link = el("a", { href: item.url, target: "_blank", rel: "noopener noreferrer",
        "data-result": media[task.model] }, thumb, " ", media[task.model]);
      cell.replaceChildren(link);
      thumb.src = await blobUrl(item.cover_image_url || item.url);
    } catch (error) {
      showError("#tasks-error", error);
    }
  }

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
      if (media === null) {
        const models = (await api("/api/paas/v4/models")).data;
        media = Object.fromEntries(models.filter((m) => m.type === "image" || m.type === "video").map((m) => [m.id, m.type]));
      }
      const tasks = (await api("/console/api/tasks")).data;
      const readable = !(me.admin && !me.open);
      $("#tasks-table tbody").replaceChildren(...tasks.map((t) => el("tr", { "data-task": t.id },
        el("td", { class: "mono", text: t.id }), el("td", { text: t.model }),
        el("td", { class: "mono", text: t.key.slice(0, 8) }),
        el("td", {}, el("span", { class: "badge " + t.task_status.toLowerCase(), text: t.task_status })),
        el("td", { text: when(t.created) }), el("td", { text: when(t.finished) }),
        // Results are read through the API, which gives a task only to its own key.
        el("td", { class: "preview" }),
        el("td", {}, readable ? el("button", { type: "button", class: "link", text: "Result", onclick: () => show(t) }) : ""))));
      if (!tasks.length) $("#tasks-table tbody").append(el("tr", {}, el("td", { colspan: 8, text: "No async tasks." })));
      if (readable) {
        for (const t of tasks) {
          if (media[t.model] && t.task_status === "SUCCESS") preview(t, $(`tr[data-task="${t.id}"] td.preview`));
        }
      }
    } catch (error) {
      showError("#tasks-error", error);
    }
  }

  Console.start(async () => {
    $("#refresh-tasks").addEventListener("click", load);
    await load();
  });
})();
