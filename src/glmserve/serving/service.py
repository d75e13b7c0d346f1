"""The completion pipeline, independent of HTTP: prepare, admit, start.

``CompletionService.prepare`` checks a chat request against the model (catalog limits,
context window), renders the prompt through ``chat/`` with the Z.AI flags, builds the
constraint and resolves sampling; ``start`` admits it (platform) and starts it on the
model's engine. The running ``Completion`` (completion.py) yields message deltas, then
the finish reason and usage. See docs/architecture.md for the request's whole walk.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from glmserve.catalog import ModelSpec
from glmserve.chat.prompt import ThinkingFlags, render_prompt
from glmserve.chat.schema import tool_specs
from glmserve.chat.template import ChatTemplate, TemplateError
from glmserve.config import HttpSettings
from glmserve.config.media import MediaSettings
from glmserve.engine.media import MediaPrompt
from glmserve.engine.types import EngineBusy, GenerationRequest
from glmserve.errors import (
    ClientGone,
    HighTraffic,
    InvalidField,
    ModelNotFound,
    PermissionDenied,
    PromptTooLong,
    SensitiveContent,
)
from glmserve.platform.admission import Admitted, Attempt
from glmserve.platform.auth import Principal
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.chat import (
    ChatCompletionRequest,
    McpTool,
    NamedToolChoice,
    WebSearchTool,
    function_tools,
    has_media,
    template_messages,
)
from glmserve.protocol.sizes import check_sizes
from glmserve.safety import SAFE, Verdict
from glmserve.serving.media.loader import LoadedMedia, MediaLoader, fetches_media
from glmserve.serving.metrics import Metrics
from glmserve.serving.models.registry import ModelRegistry, ServedModel
from glmserve.serving.prepare.constraints import check_schemas, constraint_for
from glmserve.serving.prepare.sampling import max_tokens, sampling, thinking_enabled
from glmserve.serving.prepare.steering_plan import steering_for
from glmserve.serving.run.completion import Completion, PreparedCompletion
from glmserve.serving.run.content_filter import ContentFilter
from glmserve.serving.run.legs import Legs
from glmserve.serving.run.priority import Priority
from glmserve.serving.run.steering import Steerer

__all__ = ["CompletionService", "PreparedCompletion", "PromptCount", "render_request"]

_MEDIA_PREPARE_THREADS = 8
"""As many as the media fetcher's threads: each waits on one fetch at a time."""


@dataclass(frozen=True)
class PromptCount:
    """A prompt's tokens, and how many of them images and video frames take."""

    tokens: list[int]
    image_tokens: int = 0
    video_tokens: int = 0
    media: MediaPrompt | None = None

    @property
    def total(self) -> int:
        return len(self.tokens)


class CompletionService:
    def __init__(
        self,
        models: ModelRegistry,
        *,
        metrics: Metrics | None = None,
        prompt_log: Path | None = None,
        limits: HttpSettings | None = None,
        priority: Priority | None = None,
        media: MediaSettings | None = None,
        content_filter: ContentFilter | None = None,
        prepare_threads: int = 4,
    ) -> None:
        self._models = models
        self._limits = limits or HttpSettings()
        self.priority = priority
        self._media = MediaLoader(media or MediaSettings())
        self._metrics = metrics
        self._filter = content_filter
        self._prompt_log = prompt_log
        self._log_lock = threading.Lock()
        # Preparing (schemas, grammars, rendering, tokenizing) runs on threads of its
        # own: a costly request waits for one of these, never for the event loop or the
        # default executor every other route shares (docs/limits.md).
        self.executor = ThreadPoolExecutor(
            max_workers=prepare_threads, thread_name_prefix="glmserve-prepare"
        )
        # A request whose media is fetched from a URL waits on another server while it
        # is prepared (up to [media] fetch_timeout_seconds): it is prepared on threads
        # of its own, so that slow servers cannot take the threads every other request
        # is prepared on (docs/security.md, "Media fetches").
        self.media_executor = ThreadPoolExecutor(
            max_workers=_MEDIA_PREPARE_THREADS, thread_name_prefix="glmserve-prepare-media"
        )

    def executor_for(self, request: ChatCompletionRequest) -> ThreadPoolExecutor:
        """The threads ``request`` is prepared on: the media ones if it fetches a URL."""
        return self.media_executor if fetches_media(request.messages) else self.executor

    async def prepare_off_loop(
        self, request: ChatCompletionRequest, *, coding: bool = False
    ) -> PreparedCompletion:
        """``prepare`` on this service's executor (batch lines, async tasks)."""
        work = functools.partial(self.prepare, request, coding=coding)
        return await asyncio.get_running_loop().run_in_executor(self.executor_for(request), work)

    def close(self) -> None:
        """Stop the preparing threads and the media fetcher's threads."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.media_executor.shutdown(wait=False, cancel_futures=True)
        self._media.close()

    @property
    def limits(self) -> HttpSettings:
        """The ``[http]`` limits a request is checked against (stored work parses with them)."""
        return self._limits

    async def admit(
        self, request: ChatCompletionRequest, attempt: Attempt, *, task_id: str | None = None
    ) -> str:
        """The cheap checks before the costly ones: the model is served here (1211), then
        the balance and limits (1113, 1302-1304, 1231); only then is the prompt rendered
        and tokenized (``prepare`` with the id returned, the completion's)."""
        model = self._model(request)
        task_id = task_id or completion_id()
        await attempt.admit(
            Admitted(
                record_id=task_id,
                model=model.code,
                request_id=request.request_id or task_id,
                client_request_id=request.request_id,
                stream=bool(request.stream),
                price=model.spec.price,
                user_id=request.user_id,
                new_prompt=is_new_prompt(request),
            )
        )
        return task_id

    def prepare(
        self,
        request: ChatCompletionRequest,
        *,
        coding: bool = False,
        gone: threading.Event | None = None,
        task_id: str | None = None,
    ) -> PreparedCompletion:
        """``coding``: the request came to the Coding endpoint, where preserved thinking
        (``clear_thinking: false``) is the default. ``gone``: set when the client has
        left; the work stops at the next step (api/disconnect.py). ``task_id``: the id
        ``admit`` gave it."""
        check_sizes(request, self._limits)
        _refuse_unrun_search(request)
        check_schemas(request)
        model = self._model(request)
        media = self._load_media(model, request)
        tools = self._tools(request)
        prompt = self._render(model, request, tools, coding, media)
        _stop_if(gone)
        constraint = constraint_for(model, request, tools, prompt)
        _stop_if(gone)
        count = _count(model, prompt, media)
        tokens = count.tokens
        context = model.context_size
        if len(tokens) >= context:
            raise PromptTooLong(len(tokens), context)
        limit = min(max_tokens(model, request), context - len(tokens))
        task_id = task_id or completion_id()
        return PreparedCompletion(
            id=task_id,
            request_id=request.request_id or task_id,
            created=now_seconds(),
            model=model,
            prompt=prompt,
            generation=GenerationRequest(
                prompt_tokens=tokens,
                max_tokens=limit,
                sampling=replace(sampling(model.spec, request), grammar=constraint.grammar),
                stop=request.stop_list + (() if request.ignore_eos else model.stop),
                ignore_eos=bool(request.ignore_eos),
                media=count.media,
                label=request.request_id or task_id,
            ),
            stream=bool(request.stream),
            tools=tools,
            specs=tool_specs(tools),
            json_call=constraint.json_call,
            tool_stream=bool(request.tool_stream) and model.spec.capabilities.tool_stream,
            include_usage=bool(request.stream_options and request.stream_options.include_usage),
            steering=steering_for(model, request, tools, constraint, limit),
            user_id=request.user_id,
            conversation=_conversation(request) if self._filter is not None else (),
            screened=not request.safety_disabled,
            new_prompt=is_new_prompt(request),
        )

    def count_prompt_tokens(
        self,
        request: ChatCompletionRequest,
        *,
        coding: bool = False,
        gone: threading.Event | None = None,
    ) -> int:
        """Tokens of the prompt this request renders to: what ``prepare`` would send to the
        engine, so the tokenizer API agrees with the chat response's prompt_tokens."""
        return self.prompt_count(request, coding=coding, gone=gone).total

    def prompt_count(
        self,
        request: ChatCompletionRequest,
        *,
        coding: bool = False,
        gone: threading.Event | None = None,
    ) -> PromptCount:
        """The prompt's tokens with its image and video tokens (the tokenizer API)."""
        check_sizes(request, self._limits)
        _refuse_unrun_search(request)
        check_schemas(request)
        model = self._model(request)
        media = self._load_media(model, request)
        prompt = self._render(model, request, self._tools(request), coding, media)
        _stop_if(gone)
        return _count(model, prompt, media)

    def _load_media(self, model: ServedModel, request: ChatCompletionRequest) -> LoadedMedia | None:
        """The request's images, fetched and decoded; media for a model that cannot see
        is refused (1214), never dropped."""
        if not has_media(request.messages):
            return None
        if not model.spec.capabilities.vision:
            raise InvalidField(
                "messages",
                f"model {model.code} accepts text only, not images, video, audio or files.",
            )
        if not model.engine.supports_images:
            raise InvalidField(
                "messages",
                f"model {model.code} is served here by an engine that takes no images, "
                "video or files (the embedded engine needs a vision projector, 'mmproj'; "
                "remote workers must be vLLM or SGLang and the model folder must describe "
                "its image processor).",
            )
        return self._media.load(request.messages)

    async def start(self, prepared: PreparedCompletion, attempt: Attempt) -> Completion:
        """Admit the request (balance, limits, request_id, plan) unless ``admit`` did,
        check its input (content safety) and start it on the engine; the attempt then
        follows the completion until its ledger record is written."""
        # admitted first: limits protect the guard model, and a blocked prompt leaves
        # its record (error 1301) like any refused request
        if attempt.admitted is None:
            await attempt.admit(prepared.admitted)
        verdict = await self.screen(prepared, attempt.caller)
        completion = self.run(prepared, input_verdict=verdict, tenant=attempt.caller.key_id)
        attempt.track(completion)
        return completion

    async def screen(self, prepared: PreparedCompletion, caller: Principal) -> Verdict:
        """The content filter's verdict on the input; raises 1301 if it is blocked and
        1220 for ``sensitive_word_check`` DISABLE from a key not allowed to."""
        if self._filter is None:
            return SAFE  # nothing to check, and nothing for DISABLE to turn off
        if not prepared.screened and not caller.safety_exempt:
            raise PermissionDenied(
                "sensitive_word_check DISABLE",
                "this API key may not turn content safety off (an administrator can "
                "allow it: docs/safety.md)",
            )
        if not prepared.screened:
            return SAFE
        verdict = await self._filter.check_input(prepared.conversation)
        if verdict.blocked:
            raise SensitiveContent()
        return verdict

    def run(
        self,
        prepared: PreparedCompletion,
        *,
        batch: bool = False,
        input_verdict: Verdict = SAFE,
        tenant: str = "",
    ) -> Completion:
        """Start on the engine, without admission (the caller has admitted it and
        screened its input). Interactive work (``batch`` false) preempts batch work on
        its model first. ``tenant``: whose work it is (the key id), for the engine's
        turns between keys."""
        if tenant:
            prepared = replace(prepared, generation=replace(prepared.generation, tenant=tenant))
        model = prepared.model
        if not batch and self.priority is not None:
            self.priority.interactive(model.code)
        parser = model.family.parser(
            prepared.specs if prepared.specs is not None else prepared.tools,
            prompt=prepared.prompt,
            trim=model.trim,
            json_call=prepared.json_call,
        )
        cut = prepared.steering.cut
        try:
            if cut is not None and Steerer.starts_closed(prepared.steering, parser):
                # a budget of 0: the thinking block is closed before the model writes
                legs = Legs(
                    model.engine, prepared.generation, inserted=cut.tokens, grammar=cut.grammar
                )
            else:
                legs = Legs(model.engine, prepared.generation)
        except EngineBusy:
            raise HighTraffic(model.code) from None
        completion = Completion(
            prepared,
            legs,
            parser,
            self._metrics,
            content_filter=self._filter,
            input_verdict=input_verdict,
        )
        if batch and self.priority is not None:
            self.priority.track(completion.cancel)
        return completion

    def model_for(self, request: ChatCompletionRequest) -> ServedModel:
        """The served model the request names; raises ModelNotFound (1211)."""
        return self._model(request)

    def _model(self, request: ChatCompletionRequest) -> ServedModel:
        model = self._models.get(request.model)
        if model is None:
            raise ModelNotFound(request.model)
        return model

    @staticmethod
    def _tools(request: ChatCompletionRequest) -> list[dict[str, Any]]:
        return function_tools(request) if request.tool_choice != "none" else []

    def _render(
        self,
        model: ServedModel,
        request: ChatCompletionRequest,
        tools: list[dict[str, Any]],
        coding: bool,
        media: LoadedMedia | None = None,
    ) -> str:
        texts = media.texts if media is not None else None
        prompt = render_request(
            model.template, model.spec, request, tools, coding=coding, media_text=texts
        )
        self._log_prompt(prompt)
        return prompt

    def _log_prompt(self, prompt: str) -> None:
        if self._prompt_log is not None:
            with self._log_lock, self._prompt_log.open("a", encoding="utf-8") as out:
                out.write(json.dumps(prompt, ensure_ascii=False) + "\n")


def is_new_prompt(request: ChatCompletionRequest) -> bool:
    """One user turn, as a Coding Plan counts prompts: the messages after the last
    assistant turn hold no tool result. A tool loop's follow-up carries the results of
    the calls the model made (with Claude Code, often beside a reminder text), and is
    not counted again (docs/plans.md)."""
    trailing: list[str] = []
    for message in reversed(request.messages):
        if message.role == "assistant":
            break
        trailing.append(message.role)
    return "tool" not in trailing


def _conversation(request: ChatCompletionRequest) -> tuple[tuple[str, str], ...]:
    """The request's turns as (role, text), media parts left out."""
    return tuple((m["role"], m["content"]) for m in template_messages(request.messages))


def _stop_if(gone: threading.Event | None) -> None:
    if gone is not None and gone.is_set():
        raise ClientGone()


def render_request(
    template: ChatTemplate,
    spec: ModelSpec,
    request: ChatCompletionRequest,
    tools: list[dict[str, Any]],
    *,
    coding: bool = False,
    media_text: Sequence[str] | None = None,
) -> str:
    """The prompt: the request's messages through the model's template, with the Z.AI
    thinking flags for thinking models (``coding``: the Coding endpoint, where past
    reasoning is kept by default; ``media_text``: what stands for each media part)."""
    thinking = None
    if spec.capabilities.thinking:
        thinking = ThinkingFlags(
            enable_thinking=thinking_enabled(spec, request),
            clear_thinking=_clear_thinking(request, coding),
            reasoning_effort=request.reasoning_effort,
        )
    shown = tools if spec.capabilities.tools else None
    if tools and shown is None and not _forced_call(request):
        # The template cannot show them, so the model would answer as if there were none.
        raise InvalidField(
            "tools",
            f"model {spec.code} does not support tools: its prompt format cannot show them "
            "(a call can still be forced with tool_choice 'required' or a named function).",
        )
    try:
        return render_prompt(
            template,
            template_messages(request.messages, media_text),
            tools=shown,
            thinking=thinking,
        )
    except TemplateError as exc:
        raise InvalidField("messages", f"the model's chat template rejected them: {exc}") from None


def _refuse_unrun_search(request: ChatCompletionRequest) -> None:
    """An enabled web_search tool still here was not run (the search runs on the chat
    routes, serving/web_search/grounding.py, not for async or batch requests)."""
    for index, tool in enumerate(request.tools or []):
        if isinstance(tool, WebSearchTool) and str(tool.web_search.get("enable")).lower() == "true":
            raise InvalidField(
                f"tools[{index}].type",
                "'web_search' is run for chat/completions only, not for async or batch requests.",
            )
        if isinstance(tool, McpTool):
            raise InvalidField(
                f"tools[{index}].type",
                "'mcp' is run for chat/completions only, not for async, batch or tokenizer "
                "requests.",
            )


def _forced_call(request: ChatCompletionRequest) -> bool:
    """tool_choice forces a call: a grammar writes it, so the prompt need not show tools."""
    return request.tool_choice == "required" or isinstance(request.tool_choice, NamedToolChoice)


def _count(model: ServedModel, prompt: str, media: LoadedMedia | None) -> PromptCount:
    if media is None:
        return PromptCount(model.engine.tokenize(prompt))
    media_prompt = MediaPrompt(prompt, media.images, media.video_frames)
    try:
        tokens = model.engine.tokenize_media(media_prompt)
    except ValueError as exc:  # the projector refused the images (engine/llama/vision.py)
        raise InvalidField("messages", f"the images could not be tokenized: {exc}") from None
    video = sum(span.length for span in tokens.spans if media.video[span.image])
    return PromptCount(tokens.tokens, tokens.image_tokens - video, video, media_prompt)


def _clear_thinking(request: ChatCompletionRequest, coding: bool) -> bool:
    """Z.AI drops past turns' reasoning unless told not to; the Coding endpoint keeps it."""
    if request.thinking is not None and request.thinking.clear_thinking is not None:
        return request.thinking.clear_thinking
    return not coding
