"""The ``web_search`` tool of chat: glmserve runs the search itself and grounds the
answer on it (docs/search.md, "Search in chat").

The query is the tool's ``search_query``, else the last user message. The results are
written into ``search_prompt`` at ``{{search_result}}`` (``{{current_date}}``: today),
or into a default prompt, which goes before the conversation as a system message (added
to the first system message when there is one). The tool itself is taken out of the
request: the model sees the results, not a tool it cannot call. With ``search_result``
true the response carries the results as top-level ``web_search``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from glmserve.errors import InvalidField
from glmserve.protocol.chat import (
    ChatCompletionRequest,
    Message,
    TextPart,
    WebSearchTool,
)
from glmserve.protocol.web_search import (
    MAX_QUERY_CHARS,
    SearchOptions,
    parse_web_search_tool,
    search_result,
)
from glmserve.protocol.web_search import WebSearchTool as ToolOptions
from glmserve.search import Hit

__all__ = ["DEFAULT_PROMPT", "Grounding", "SearchPlan", "grounded_request", "search_tools"]

DEFAULT_PROMPT = (
    "Web search results for the user's question follow, each with its reference "
    "([ref_1], [ref_2]...). Answer from them where they help, cite the references you "
    "use, and say so when they do not answer the question. Today is {{current_date}}.\n\n"
    "{{search_result}}"
)


@dataclass(frozen=True)
class Grounding:
    request: ChatCompletionRequest
    """The request to run: the results in its prompt, the web_search tool taken out."""
    shown: list[dict[str, Any]] | None = None
    """The results for the response's ``web_search``; None when not asked for."""
    sequence: Literal["before", "after"] = "before"
    """In a stream, the results come in a chunk of their own before the answer, or
    after it (just before the finish chunk)."""


@dataclass(frozen=True)
class SearchPlan:
    tool: ToolOptions
    options: SearchOptions


def search_tools(request: ChatCompletionRequest) -> tuple[SearchPlan | None, bool]:
    """The search to run for the request's enabled web_search tool (None: none), and
    whether the request has web_search tools at all. Two enabled ones are refused."""
    plans: list[SearchPlan] = []
    found = False
    for index, tool in enumerate(request.tools or []):
        if not isinstance(tool, WebSearchTool):
            continue
        found = True
        parsed = parse_web_search_tool(tool.web_search, index)
        if parsed.enable and parsed.options is not None:
            query = parsed.options.query or _last_user_text(request)
            if not query:
                raise InvalidField(
                    f"tools[{index}].web_search.search_query",
                    "there is no search_query and no user message text to search for.",
                )
            options = replace(parsed.options, query=query[:MAX_QUERY_CHARS])
            plans.append(SearchPlan(parsed, options))
    if len(plans) > 1:
        raise InvalidField("tools", "at most one enabled web_search tool is supported.")
    return (plans[0] if plans else None), found


def grounded_request(
    request: ChatCompletionRequest, plan: SearchPlan | None, hits: list[Hit]
) -> Grounding:
    """The request with the results in its prompt and without web_search tools."""
    tools = [t for t in request.tools or [] if not isinstance(t, WebSearchTool)]
    if plan is None:
        return Grounding(replace_request(request, request.messages, tools))
    results = search_result(hits)
    prompt = (plan.tool.search_prompt or DEFAULT_PROMPT).replace(
        "{{search_result}}", render_results(results)
    )
    prompt = prompt.replace("{{current_date}}", time.strftime("%Y-%m-%d"))
    messages = _with_system(request.messages, prompt)
    shown = results if plan.tool.search_result else None
    return Grounding(replace_request(request, messages, tools), shown, plan.tool.result_sequence)


def render_results(results: list[dict[str, Any]]) -> str:
    """The results as the prompt shows them: reference, title, link, date, content."""
    if not results:
        return "(The web search found no results.)"
    blocks = []
    for item in results:
        head = f"[{item['refer']}] {item['title']}\nSource: {item['link']}"
        if item["publish_date"]:
            head += f" ({item['publish_date']})"
        blocks.append(f"{head}\n{item['content']}")
    return "\n\n".join(blocks)


def replace_request(
    request: ChatCompletionRequest, messages: list[Message], tools: list[Any]
) -> ChatCompletionRequest:
    return request.model_copy(update={"messages": messages, "tools": tools or None})


def _with_system(messages: list[Message], prompt: str) -> list[Message]:
    if messages and messages[0].role == "system":
        first = messages[0]
        text = _text(first.content)
        merged = first.model_copy(update={"content": f"{text}\n\n{prompt}" if text else prompt})
        return [merged, *messages[1:]]
    return [Message(role="system", content=prompt), *messages]


def _last_user_text(request: ChatCompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return _text(message.content).strip()
    return ""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.text for p in content if isinstance(p, TextPart))
    return ""
