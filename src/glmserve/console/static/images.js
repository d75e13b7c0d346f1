// Images: the served image models (from /models), their allowed sizes, a prompt and
// the generated image. The image is read with the signed-in key (the result URL may
// want it: docs/images.md) and shown from a blob: URL.
"use strict";

(() => {
  const { api, blobUrl, el, $, showError } = Console;
  let models = [];

  function fillSizes() {
    const model = models.find((m) => m.id === $("#image-model").value);
    const sizes = model ? model.sizes : [];
    $("#image-sizes").replaceChildren(...sizes.map((s) => el("option", { value: s })));
    $("#image-size").value = model ? model.default_size || sizes[0] || "" : "";
  }

  async function generate(event) {
    event.preventDefault();
    showError("#image-error", null);
    const button = $("#image-generate");
    button.disabled = true;
    button.textContent = "Generating…";
    try {
      const body = {
        model: $("#image-model").value,
        prompt: $("#image-prompt").value,
        size: $("#image-size").value,
      };
      const answer = await api("/api/paas/v4/images/generations", { method: "POST", body: JSON.stringify(body) });
      const url = answer.data[0].url;
      const img = $("#image-result");
      const old = img.src;
      img.src = await blobUrl(url);
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      $("#image-link").href = url;
      $("#image-facts").textContent = body.model + " · " + body.size;
      $("#image-figure").hidden = false;
    } catch (error) {
      showError("#image-error", error);
    } finally {
      button.disabled = false;
      button.textContent = "Generate";
    }
  }

  Console.start(async () => {
    $("#image-form").addEventListener("submit", generate);
    $("#image-model").addEventListener("change", fillSizes);
    try {
      models = (await api("/api/paas/v4/models")).data.filter((m) => m.type === "image");
    } catch (error) {
      showError("#image-error", error);
      return;
    }
    $("#image-model").replaceChildren(...models.map((m) => el("option", { value: m.id, text: m.id })));
    if (!models.length) showError("#image-error", "This server serves no image model.");
    $("#image-generate").disabled = !models.length;
    fillSizes();
  });
})();
