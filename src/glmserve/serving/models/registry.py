"""The served models: catalog entry, running engine, chat template and model family,
by model code; loading them at start-up."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from glmserve.catalog import ModelSpec
from glmserve.chat.families import family_for
from glmserve.chat.family import Family
from glmserve.chat.formats import BUILTIN_FORMATS, PromptFormat
from glmserve.chat.template import ChatTemplate, TemplateError
from glmserve.config import ConfigError, ModelConfig, Settings
from glmserve.engine.registry import build_engine, default_model_path
from glmserve.engine.types import Engine

__all__ = ["ServedModel", "ModelRegistry", "load_models", "template_beside"]

log = logging.getLogger(__name__)


@dataclass
class ServedModel:
    config: ModelConfig
    engine: Engine
    family: Family
    template: ChatTemplate
    template_origin: str
    """Where the chat template came from: "gguf", "file" (beside the weights) or
    "built-in:<name>"."""
    stop: tuple[str, ...]
    """Strings that end the assistant's turn: the prompt format's (built-in formats)
    and the model family's."""
    trim: bool
    gguf: Path
    created: int

    @property
    def spec(self) -> ModelSpec:
        return self.config.spec

    @property
    def code(self) -> str:
        return self.config.code

    @property
    def context_size(self) -> int:
        return self.engine.info.context_size


class ModelRegistry:
    def __init__(self, models: list[ServedModel]) -> None:
        self._models = {m.code: m for m in models}

    def get(self, code: str) -> ServedModel | None:
        return self._models.get(code)

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self._models.values())

    def close(self) -> None:
        for model in self._models.values():
            model.engine.close()


def load_models(settings: Settings, *, progress: bool = True) -> ModelRegistry:
    """Load every configured model; raise ConfigError if one cannot be served."""
    loaded: list[ServedModel] = []
    try:
        for config in settings.models:
            loaded.append(_load(config, settings, progress))
    except BaseException:
        for model in loaded:
            model.engine.close()
        raise
    return ModelRegistry(loaded)


def _load(config: ModelConfig, settings: Settings, progress: bool) -> ServedModel:
    # A remote model's "weights" on the gateway are its tokenizer (folder or GGUF).
    path = (
        config.tokenizer or config.gguf or default_model_path(settings.cache_dir, progress=progress)
    )
    log.info("loading %s from %s", config.code, path)
    try:
        engine = build_engine(config, path)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ConfigError(f"model {config.code}: cannot load {path}: {exc}") from None
    # The template in the GGUF wins; one beside the weights serves GGUFs without one.
    beside = None if engine.info.chat_template else template_beside(path)
    fmt = _format(config, engine, beside)
    try:
        template = _template(config, engine, fmt, beside)
    except ConfigError:
        engine.close()
        raise
    return ServedModel(
        config=config,
        engine=engine,
        family=family_for(config.spec.family),
        template=template,
        template_origin=f"built-in:{fmt.name}" if fmt else "file" if beside else "gguf",
        stop=(fmt.stop if fmt else ()) + family_for(config.spec.family).stop,
        trim=fmt.trim if fmt else False,
        gguf=path,
        created=int(time.time()),
    )


def _format(config: ModelConfig, engine: Engine, beside: str | None) -> PromptFormat | None:
    """The built-in format to use, or None when the weights carry a chat template."""
    if engine.info.chat_template or beside:
        return None
    return BUILTIN_FORMATS[config.spec.builtin_format]


def template_beside(gguf: Path) -> str | None:
    """A chat template shipped beside the weights, as Hugging Face repos ship it:
    ``chat_template.jinja``, else ``tokenizer_config.json``'s ``chat_template`` (a
    string, or a list of named templates of which "default" is used)."""
    jinja = gguf.parent / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = gguf.parent / "tokenizer_config.json"
    if not config.is_file():
        return None
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{config}: not a JSON object: {exc}") from None
    if isinstance(value, list):
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        value = named.get("default")
    return value if isinstance(value, str) and value else None


def _template(
    config: ModelConfig, engine: Engine, fmt: PromptFormat | None, beside: str | None
) -> ChatTemplate:
    info = engine.info
    source = fmt.template if fmt else info.chat_template or beside or ""
    try:
        return ChatTemplate(
            source, bos_token=info.bos_token, eos_token=info.eos_token, name=config.code
        )
    except TemplateError as exc:
        raise ConfigError(f"model {config.code}: {exc}") from None
