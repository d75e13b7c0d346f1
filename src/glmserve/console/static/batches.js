// Batches and files of the signed-in key, newest first, a page at a time ("More" follows
// the API's cursor). Files download through the API with the key header, never a bare link.
"use strict";

(() => {
  const { api, el, $, num, when, showError } = Console;
  const BASE = "/api/paas/v4";
  const PAGE = 20;
  const cursor = { batches: null, files: null };

  // The file's bytes through the authenticated API, saved by the browser as a download.
  async function download(fileId, name, errorAt) {
    showError(errorAt, null);
    try {
      const response = await api(BASE + "/files/" + encodeURIComponent(fileId) + "/content", { raw: true });
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: name || fileId + ".jsonl" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      showError(errorAt, error);
    }
  }

  function fileButton(label, fileId, errorAt) {
    if (!fileId) return null;
    return el("button", { type: "button", class: "link", "data-file": fileId, text: label,
      onclick: () => download(fileId, fileId + ".jsonl", errorAt) });
  }

  function batchRow(b) {
    const counts = b.request_counts || {};
    return el("tr", { "data-batch": b.id },
      el("td", { class: "mono", text: b.id }),
      el("td", {}, el("span", { class: "badge " + b.status, text: b.status })),
      el("td", { class: "mono", text: b.endpoint }),
      el("td", { class: "counts", text: num(counts.completed) + " / " + num(counts.failed) + " / " + num(counts.total) }),
      el("td", { text: when(b.created_at) }),
      el("td", { text: when(b.completed_at || b.failed_at || b.cancelled_at || b.expired_at) }),
      el("td", { class: "actions" },
        fileButton("output", b.output_file_id, "#batches-error"),
        fileButton("errors", b.error_file_id, "#batches-error")));
  }

  function fileRow(f) {
    return el("tr", { "data-file-row": f.id },
      el("td", { class: "mono", text: f.id }), el("td", { text: f.filename }),
      el("td", { text: f.purpose }), el("td", { text: num(f.bytes) }),
      el("td", { text: when(f.created_at) }),
      el("td", {}, el("button", { type: "button", class: "link", text: "Download",
        onclick: () => download(f.id, f.filename, "#files-error") })));
  }

  // One page of a list; `more` appends the next page after the last id shown.
  async function load(kind, more) {
    const table = "#" + kind + "-table tbody", errorAt = "#" + kind + "-error";
    showError(errorAt, null);
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (more && cursor[kind]) query.set("after", cursor[kind]);
    try {
      const page = await api(BASE + "/" + kind + "?" + query);
      const rows = page.data.map(kind === "batches" ? batchRow : fileRow);
      if (more) $(table).append(...rows);
      else $(table).replaceChildren(...rows);
      if (!more && !rows.length) {
        $(table).append(el("tr", {}, el("td", { colspan: 7, text: "No " + kind + "." })));
      }
      if (page.data.length) cursor[kind] = page.data[page.data.length - 1].id;
      $("#more-" + kind).hidden = !page.has_more;
    } catch (error) {
      showError(errorAt, error);
    }
  }

  const refresh = () => Promise.all([load("batches", false), load("files", false)]);

  Console.start(async (me) => {
    if (me.admin && !me.open) {
      $("#batches-admin").hidden = false;
      $("#batches-card").hidden = true;
      $("#files-card").hidden = true;
      return;
    }
    $("#refresh-batches").addEventListener("click", refresh);
    $("#more-batches").addEventListener("click", () => load("batches", true));
    $("#more-files").addEventListener("click", () => load("files", true));
    await refresh();
  });
})();
