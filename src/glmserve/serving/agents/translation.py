"""``general_translation``: text translated by a strategy's sequence of model calls
(docs/agents.md, "Translation").

| strategy   | calls                                  | answer      | explanation |
|------------|----------------------------------------|-------------|-------------|
| general    | TRANSLATE                              | TRANSLATE   |             |
| paraphrase | PARAPHRASE                             | PARAPHRASE  |             |
| two_step   | VERBATIM, REFINE                       | REFINE      |             |
| three_step | FAITHFUL, EXPRESSIVE, ELEGANT          | ELEGANT     |             |
| reflection | TRANSLATE, CRITIQUE, REVISE            | REVISE      | CRITIQUE    |
| cot        | ANALYZE, FINALIZE                      | FINALIZE    | ANALYZE     |

A Pinyin or IPA target is one TRANSCRIBE call (strategy general only). The last call
streams; the explanation, when there is one, comes as a whole before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from glmserve.errors import InvalidField, MissingField
from glmserve.platform.auth import Principal
from glmserve.platform.files import Files
from glmserve.protocol.agents import AgentRequest, text_content
from glmserve.serving.agents.agent import Content
from glmserve.serving.agents.calls import AgentRun
from glmserve.serving.agents.glossary import read_glossary
from glmserve.serving.agents.languages import (
    LANGUAGES,
    TRANSCRIPTIONS,
    detect_language,
    known_code,
)
from glmserve.serving.agents.translation_prompts import (
    Brief,
    step_messages,
    transcription_messages,
)

__all__ = ["GeneralTranslation", "STRATEGIES"]

STRATEGIES: dict[str, tuple[str, ...]] = {
    "general": ("TRANSLATE",),
    "paraphrase": ("PARAPHRASE",),
    "two_step": ("VERBATIM", "REFINE"),
    "three_step": ("FAITHFUL", "EXPRESSIVE", "ELEGANT"),
    "reflection": ("TRANSLATE", "CRITIQUE", "REVISE"),
    "cot": ("ANALYZE", "FINALIZE"),
}
_EXPLANATION = {"reflection": "CRITIQUE", "cot": "ANALYZE"}
_VARIABLES = ("source_lang", "target_lang", "strategy", "strategy_config", "glossary", "suggestion")
_CONFIG_KEYS = {name: {"suggestion"} for name in STRATEGIES} | {
    "cot": {"suggestion", "reason_lang"}
}
_MAX_SUGGESTION = 2000
VAR = "custom_variables"


@dataclass(frozen=True)
class TranslationJob:
    brief: Brief
    strategy: str


class GeneralTranslation:
    agent_id = "general_translation"
    runs_async = False

    def __init__(self, files: Files) -> None:
        self._files = files

    async def prepare(self, request: AgentRequest, caller: Principal) -> TranslationJob:
        variables = request.variables
        unknown = sorted(set(variables) - set(_VARIABLES))
        if unknown:
            raise InvalidField(
                f"{VAR}.{unknown[0]}", f"{self.agent_id} takes {', '.join(_VARIABLES)}."
            )
        text = request.text
        if not text.strip():
            raise MissingField("messages")
        target = _language(variables, "target_lang", required=True)
        assert target is not None
        source = _language(variables, "source_lang", required=False)
        if source in TRANSCRIPTIONS:
            raise InvalidField(f"{VAR}.source_lang", f"{source!r} is a target only.")
        strategy = _strategy(variables.get("strategy"))
        config = _strategy_config(variables.get("strategy_config"), strategy)
        if target in TRANSCRIPTIONS and strategy != "general":
            raise InvalidField(
                f"{VAR}.strategy", f"a {target} transcription takes strategy 'general' only."
            )
        suggestion = _suggestion(variables.get("suggestion"), f"{VAR}.suggestion")
        extra = _suggestion(
            config.get("suggestion"), f"{VAR}.strategy_config.{strategy}.suggestion"
        )
        guidance = "\n".join(s for s in (suggestion, extra) if s) or None
        glossary = await read_glossary(variables.get("glossary"), caller, self._files)
        brief = Brief(
            text=text,
            source=source or detect_language(text),
            target=target,
            glossary=tuple(glossary),
            suggestion=guidance,
            reason_lang=config.get("reason_lang", "to"),
        )
        return TranslationJob(brief, strategy)

    def conversation_id(self, job: TranslationJob) -> None:
        return None

    async def keep_conversation(self, job: TranslationJob) -> None:
        return None

    async def contents(self, job: TranslationJob, run: AgentRun) -> AsyncIterator[Content]:
        brief = job.brief
        if brief.target in TRANSCRIPTIONS:
            async for piece in run.stream(transcription_messages(brief)):
                yield text_content(piece)
            return
        steps = STRATEGIES[job.strategy]
        done: dict[str, str] = {}
        for step in steps[:-1]:
            done[step] = await run.text(step_messages(step, brief, done))
        explained = _EXPLANATION.get(job.strategy)
        if explained is not None:
            yield text_content(done[explained], "explanation")
        async for piece in run.stream(step_messages(steps[-1], brief, done)):
            yield text_content(piece)


def _language(variables: dict[str, Any], name: str, *, required: bool) -> str | None:
    """A language code the agent knows; None for source_lang "auto" (or absent)."""
    value = variables.get(name)
    field = f"{VAR}.{name}"
    if value is None:
        if required:
            raise MissingField(field)
        return None
    if not isinstance(value, str):
        raise InvalidField(field, "must be a language code such as 'en' or 'zh-CN'.")
    if not required and value.strip().lower() == "auto":
        return None
    code = known_code(value)
    if code is None:
        known = ", ".join([*LANGUAGES, *TRANSCRIPTIONS])
        raise InvalidField(field, f"unknown language {value!r}; the agent knows: {known}.")
    return code


def _strategy(value: Any) -> str:
    if value is None:
        return "general"
    if not isinstance(value, str) or value not in STRATEGIES:
        raise InvalidField(f"{VAR}.strategy", f"must be one of {', '.join(STRATEGIES)}.")
    return value


def _strategy_config(value: Any, strategy: str) -> dict[str, Any]:
    """The chosen strategy's settings; settings of another strategy are refused, since
    they would not apply."""
    field = f"{VAR}.strategy_config"
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidField(field, "must be an object keyed by strategy.")
    for name in value:
        if name != strategy:
            raise InvalidField(f"{field}.{name}", f"applies only with strategy {name!r}.")
    config = value.get(strategy) or {}
    if not isinstance(config, dict):
        raise InvalidField(f"{field}.{strategy}", "must be an object.")
    for key in config:
        if key not in _CONFIG_KEYS[strategy]:
            allowed = ", ".join(sorted(_CONFIG_KEYS[strategy]))
            raise InvalidField(f"{field}.{strategy}.{key}", f"{strategy} takes {allowed}.")
    if config.get("reason_lang", "to") not in ("from", "to"):
        raise InvalidField(f"{field}.cot.reason_lang", "must be 'from' or 'to'.")
    return config


def _suggestion(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField(field, "must be a string.")
    if len(value) > _MAX_SUGGESTION:
        raise InvalidField(field, f"at most {_MAX_SUGGESTION} characters.")
    return value.strip() or None
