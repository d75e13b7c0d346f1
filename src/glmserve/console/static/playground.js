// The playground: a streamed chat completion through the Z.AI API, reasoning in its own
// pane, tool calls as they build up, usage (with cached_tokens) after each answer.
"use strict";

(() => {
  const { api, apiError, el, $, num } = Console;
  const CHAT = "/api/paas/v4/chat/completions";
  let history = [];
  let pendingCall = null; // the tool call the next message answers
  let controller = null;
  const capabilities = new Map(); // model -> its catalog capabilities

  // Thinking starts as the model's default and is off for a model without it.
  function followModel() {
    const caps = capabilities.get($("#model").value) || {};
    $("#thinking").checked = !!caps.thinking_default;
    $("#thinking").disabled = !caps.thinking;
    followThinking();
  }

  // The budget applies to thinking only (docs/api.md "Thinking budgets").
  function followThinking() {
    $("#budget_tokens").disabled = $("#thinking").disabled || !$("#thinking").checked;
  }

  function chatKey(me) {
    if (me.admin && !me.open) return $("#playground-key").value.trim() || null;
    return Console.key();
  }

  function number(id) {
    const value = $("#" + id).value;
    return value === "" ? undefined : Number(value);
  }

  function tools() {
    const text = $("#tools").value.trim();
    $("#tools-error").textContent = "";
    if (!text) return undefined;
    try {
      const parsed = JSON.parse(text);
      if (!Array.isArray(parsed)) throw new Error("tools must be a JSON array");
      return parsed;
    } catch (error) {
      $("#tools-error").textContent = "Tools: " + error.message;
      throw error;
    }
  }

  // The request body the settings describe (also what "copy as" prints).
  function requestBody(messages) {
    const system = $("#system").value.trim();
    const body = {
      model: $("#model").value,
      messages: (system ? [{ role: "system", content: system }] : []).concat(messages),
      stream: true,
    };
    if (!$("#thinking").disabled) {
      body.thinking = { type: $("#thinking").checked ? "enabled" : "disabled" };
      const budget = number("budget_tokens");
      if (!$("#budget_tokens").disabled && budget !== undefined) body.thinking.budget_tokens = budget;
    }
    for (const name of ["temperature", "top_p", "max_tokens"]) {
      const value = number(name);
      if (value !== undefined) body[name] = value;
    }
    const list = tools();
    if (list) {
      body.tools = list;
      if ($("#tool_stream").checked) body.tool_stream = true;
    }
    if ($("#web_search").checked) {
      // glmserve searches, puts the results in the prompt and returns them (docs/search.md)
      const search = { type: "web_search", web_search: { enable: true, search_result: true } };
      body.tools = (body.tools || []).concat([search]);
    }
    return body;
  }

  function turn(role, text) {
    const node = el("div", { class: "turn " + role }, el("div", { class: "role", text: role }));
    if (text !== undefined) node.append(el("div", { class: "text", text }));
    $("#transcript").append(node);
    node.scrollIntoView({ block: "end" });
    return node;
  }

  function assistantTurn() {
    const node = turn("assistant");
    const reasoning = el("details", { class: "reasoning", open: true, hidden: true },
      el("summary", { text: "Thinking" }), el("div", { class: "reasoning-text" }));
    const answer = el("div", { class: "text answer" });
    const calls = el("div", { class: "tool-calls" });
    const usage = el("div", { class: "usage" });
    const sources = el("ol", { class: "web-search", hidden: true });
    node.append(reasoning, answer, calls, sources, usage);
    return { node, reasoning, answer, calls, sources, usage };
  }

  // Server-sent events from a fetch body: each "data:" payload, "[DONE]" ends it.
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart()).join("\n");
        if (data === "[DONE]") return;
        if (data) yield JSON.parse(data);
      }
    }
  }

  function renderCall(view, calls, delta) {
    const index = delta.index || 0;
    let call = calls[index];
    if (!call) {
      call = calls[index] = { id: delta.id, type: "function", function: { name: "", arguments: "" } };
      call.node = el("div", { class: "tool-call" },
        el("div", { class: "tool-name" }), el("pre", { class: "tool-args" }));
      view.calls.append(call.node);
    }
    if (delta.id) call.id = delta.id;
    const fn = delta.function || {};
    if (fn.name) call.function.name += fn.name;
    if (fn.arguments !== undefined && fn.arguments !== null) {
      call.function.arguments += typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments);
    }
    call.node.querySelector(".tool-name").textContent = "tool call: " + call.function.name;
    call.node.querySelector(".tool-args").textContent = call.function.arguments;
  }

  // The web_search tool's results: each a numbered link (its refer), site and date.
  function renderSources(view, results) {
    view.sources.replaceChildren(...results.map((r) => el("li", { "data-refer": r.refer },
      el("a", { href: r.link, text: r.title || r.link, target: "_blank", rel: "noopener" }),
      el("span", { class: "hint", text: " " + [r.media, r.publish_date].filter(Boolean).join(" · ") }))));
    view.sources.hidden = !results.length;
  }

  function renderUsage(view, usage, finish) {
    const cached = (usage.prompt_tokens_details || {}).cached_tokens || 0;
    const reasoning = (usage.completion_tokens_details || {}).reasoning_tokens;
    view.usage.textContent =
      "prompt " + num(usage.prompt_tokens) + " (cached " + num(cached) + ") · completion " +
      num(usage.completion_tokens) +
      (reasoning !== undefined && reasoning !== null ? " (reasoning " + num(reasoning) + ")" : "") +
      " · total " + num(usage.total_tokens) + (finish ? " · finish " + finish : "");
    view.usage.dataset.cached = cached;
    if (reasoning !== undefined && reasoning !== null) view.usage.dataset.reasoning = reasoning;
  }

  async function send(me, text) {
    const message = pendingCall
      ? { role: "tool", tool_call_id: pendingCall.id, content: text }
      : { role: "user", content: text };
    let body;
    try {
      body = requestBody(history.concat([message]));
    } catch (_) {
      return;
    }
    history.push(message);
    pendingCall = null;
    turn(message.role, text);
    const view = assistantTurn();
    const calls = [];
    let content = "", reasoning = "", finish = null;
    controller = new AbortController();
    $("#send").disabled = true;
    $("#stop").hidden = false;
    try {
      const response = await fetch(CHAT, {
        method: "POST",
        headers: Console.headers(chatKey(me), { "Content-Type": "application/json" }),
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!response.ok) throw await apiError(response);
      for await (const chunk of events(response)) {
        const choice = (chunk.choices || [])[0] || {};
        const delta = choice.delta || {};
        if (delta.reasoning_content) {
          reasoning += delta.reasoning_content;
          view.reasoning.hidden = false;
          view.reasoning.querySelector(".reasoning-text").textContent = reasoning;
        }
        if (delta.content) {
          content += delta.content;
          view.answer.textContent = content;
        }
        for (const call of delta.tool_calls || []) renderCall(view, calls, call);
        if (chunk.web_search) renderSources(view, chunk.web_search);
        if (choice.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) renderUsage(view, chunk.usage, finish);
        view.node.scrollIntoView({ block: "end" });
      }
    } catch (error) {
      view.node.append(el("p", { class: "error", role: "alert", text: error.name === "AbortError" ? "Stopped." : error.message }));
    } finally {
      controller = null;
      $("#send").disabled = false;
      $("#stop").hidden = true;
    }
    const reply = { role: "assistant", content };
    if (reasoning) reply.reasoning_content = reasoning;
    if (calls.length) {
      reply.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: c.function }));
      pendingCall = reply.tool_calls[0];
      view.node.append(el("p", { class: "hint",
        text: "Your next message is sent as the result of " + pendingCall.function.name + "." }));
    }
    history.push(reply);
  }

  // "Copy as": the request with the key left as an environment variable, never the key itself.
  function asCurl(body) {
    const url = location.origin + CHAT;
    return "curl -N " + url + " \\\n  -H \"Authorization: Bearer $ZAI_API_KEY\" \\\n" +
      "  -H \"Content-Type: application/json\" \\\n  -d '" +
      JSON.stringify(body, null, 2).replace(/'/g, "'\\''") + "'";
  }

  function python(value, indent) {
    const pad = "    ".repeat(indent + 1), end = "    ".repeat(indent);
    if (value === null) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (Array.isArray(value)) {
      if (!value.length) return "[]";
      return "[\n" + value.map((v) => pad + python(v, indent + 1)).join(",\n") + ",\n" + end + "]";
    }
    if (typeof value === "object") {
      const entries = Object.entries(value);
      if (!entries.length) return "{}";
      return "{\n" + entries.map(([k, v]) => pad + JSON.stringify(k) + ": " + python(v, indent + 1)).join(",\n") + ",\n" + end + "}";
    }
    return JSON.stringify(value);
  }

  function asPython(body) {
    const args = Object.entries(body).map(([k, v]) => "    " + k + "=" + python(v, 1) + ",").join("\n");
    return "import os\n\nfrom zai import ZaiClient\n\n" +
      "client = ZaiClient(api_key=os.environ[\"ZAI_API_KEY\"], base_url=" +
      JSON.stringify(location.origin + "/api/paas/v4/") + ")\n" +
      "response = client.chat.completions.create(\n" + args + "\n)\n" +
      "for chunk in response:\n    delta = chunk.choices[0].delta\n" +
      "    print(delta.reasoning_content or delta.content or \"\", end=\"\", flush=True)\n";
  }

  async function copy(kind) {
    let body;
    try {
      body = requestBody(history.concat([{ role: "user", content: $("#message").value || "Hello" }]));
    } catch (_) {
      return;
    }
    const text = kind === "curl" ? asCurl(body) : asPython(body);
    const shown = $("#copied");
    shown.textContent = text;
    shown.hidden = false;
    shown.dataset.kind = kind;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) { /* no clipboard here: the snippet is shown to copy by hand */ }
  }

  Console.start(async (me) => {
    if (me.admin && !me.open) {
      $("#playground-key-box").hidden = false;
      $("#playground-key").value = sessionStorage.getItem(Console.CHAT_KEY) || "";
      $("#playground-key").addEventListener("change", (e) =>
        sessionStorage.setItem(Console.CHAT_KEY, e.target.value.trim()));
    }
    const models = await api("/api/paas/v4/models");
    for (const model of models.data) $("#model").append(el("option", { value: model.id, text: model.id }));
    const status = await api("/console/api/status");
    for (const m of status.data) capabilities.set(m.model, m.capabilities);
    $("#model").addEventListener("change", followModel);
    $("#thinking").addEventListener("change", followThinking);
    followModel();
    $("#chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("#message").value;
      if (!text.trim() || controller) return;
      $("#message").value = "";
      send(me, text);
    });
    $("#message").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        $("#chat-form").requestSubmit();
      }
    });
    $("#stop").addEventListener("click", () => controller && controller.abort());
    $("#clear").addEventListener("click", () => {
      history = [];
      pendingCall = null;
      $("#transcript").replaceChildren();
    });
    $("#copy-curl").addEventListener("click", () => copy("curl"));
    $("#copy-python").addEventListener("click", () => copy("python"));
  });
})();
