"""The model's tokenizer, kept on the gateway: prompts go to workers as token IDs and
come back as token IDs, so the gateway renders, tokenizes and detokenizes itself.

Two sources: a Hugging Face folder (``tokenizer.json`` through the ``tokenizers``
package; ``tokenizer_config.json``, ``chat_template.jinja``, ``generation_config.json``
and ``config.json`` for the template, BOS/EOS and the end-of-generation ids) or a GGUF
(a vocabulary-only llama.cpp load, as the embedded engine's HTTP side does).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["GatewayTokenizer", "HfTokenizer", "GgufTokenizer", "load_tokenizer", "read_json"]


class GatewayTokenizer(ABC):
    chat_template: str | None
    bos_token: str
    eos_token: str
    trained_context: int
    stop_ids: frozenset[int]
    """The model's end-of-generation tokens: generation ends on any of them."""
    description: str

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Tokens of a rendered prompt: special tokens parsed, BOS added if the model
        wants it and the text does not start with it."""

    @abstractmethod
    def piece(self, token: int) -> bytes:
        """The token's bytes, special tokens as their text (the output parsers need
        ``<think>`` and ``<tool_call>``)."""

    def token_id(self, text: str) -> int | None:
        """The ID of a token given by its text (special tokens), if the vocabulary has it."""
        return None

    def close(self) -> None:
        return None


def load_tokenizer(path: Path) -> GatewayTokenizer:
    """The tokenizer at ``path``; ValueError with the reason if it cannot be read."""
    if path.is_dir():
        return HfTokenizer(path)
    if path.is_file() and path.suffix.lower() == ".gguf":
        return GgufTokenizer(path)
    if path.is_file() and path.name == "tokenizer.json":
        return HfTokenizer(path.parent)
    raise ValueError(f"tokenizer {path}: expected a Hugging Face folder or a .gguf file")


# -- Hugging Face ----------------------------------------------------------------------

_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: each printable stand-in -> its byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or {"content": ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def read_json(path: Path) -> dict[str, Any]:
    """A model folder's JSON object file ({} when absent); ValueError when it is not one."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _ids(value: Any) -> list[int]:
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int)]
    return []


class HfTokenizer(GatewayTokenizer):
    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        source = folder / "tokenizer.json"
        if not source.is_file():
            raise ValueError(f"tokenizer {folder}: no tokenizer.json in the folder")
        text = source.read_text(encoding="utf-8")
        try:
            self._tok = Tokenizer.from_str(text)
            decoder = json.dumps(json.loads(text).get("decoder"))
        except Exception as exc:  # the Rust side raises a plain Exception
            raise ValueError(f"{source}: cannot be read: {exc}") from None
        config = read_json(folder / "tokenizer_config.json")
        generation = read_json(folder / "generation_config.json")
        model = read_json(folder / "config.json")
        self.bos_token = _token_text(config.get("bos_token")) or ""
        self.eos_token = _token_text(config.get("eos_token")) or ""
        self.chat_template = _chat_template(folder, config)
        self._bos_id = self._tok.token_to_id(self.bos_token) if self.bos_token else None
        self._add_bos = bool(config.get("add_bos_token")) and self._bos_id is not None
        eos_id = self._tok.token_to_id(self.eos_token) if self.eos_token else None
        stops = _ids(generation.get("eos_token_id")) or _ids(model.get("eos_token_id"))
        self.stop_ids = frozenset([*stops, *([eos_id] if eos_id is not None else [])])
        trained = model.get("max_position_embeddings") or config.get("model_max_length")
        self.trained_context = trained if isinstance(trained, int) and trained < 1 << 30 else 0
        self.description = f"tokenizer {folder.name} ({self._tok.get_vocab_size()} tokens)"
        self._added = {i: t.content for i, t in self._tok.get_added_tokens_decoder().items()}
        self._byte_level = '"ByteLevel"' in decoder
        self._bytes = _byte_decoder()
        self._pieces: dict[int, bytes] = {}

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self._tok.encode(text, add_special_tokens=False).ids
        if self._add_bos and (not ids or ids[0] != self._bos_id):
            assert self._bos_id is not None
            ids.insert(0, self._bos_id)
        return ids

    def token_id(self, text: str) -> int | None:
        found: int | None = self._tok.token_to_id(text)
        return found

    def piece(self, token: int) -> bytes:
        known = self._pieces.get(token)
        if known is None:
            known = self._pieces[token] = self._piece(token)
        return known

    def _piece(self, token: int) -> bytes:
        if token in self._added:
            return self._added[token].encode("utf-8")
        text = self._tok.id_to_token(token)
        if text is None:
            return b""
        if self._byte_level:
            return bytes(self._bytes.get(c, 0x3F) for c in text)
        byte = _BYTE_TOKEN.match(text)
        if byte:  # SentencePiece's byte fallback
            return bytes([int(byte.group(1), 16)])
        return text.replace("\u2581", " ").encode("utf-8")


def _chat_template(folder: Path, config: dict[str, Any]) -> str | None:
    """``chat_template.jinja`` beside the tokenizer, else tokenizer_config.json's
    ``chat_template`` (a string, or named templates of which "default" is used)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8") or None
    value = config.get("chat_template")
    if isinstance(value, list):
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        value = named.get("default")
    return value if isinstance(value, str) and value else None


# -- GGUF ---------------------------------------------------------------------------------


class GgufTokenizer(GatewayTokenizer):
    def __init__(self, path: Path) -> None:
        from glmserve.engine.llama.native import NativeModel

        self._model = NativeModel(path, vocab_only=True)
        model = self._model
        self.chat_template = model.meta("tokenizer.chat_template") or None
        self.bos_token = model.token_text(model.bos)
        self.eos_token = model.token_text(model.eos)
        self.trained_context = model.trained_context
        self.stop_ids = frozenset(t for t in range(model.n_vocab) if model.is_eog(t))
        self.description = model.description() or f"tokenizer {path.name}"

    def encode(self, text: str) -> list[int]:
        return self._model.tokenize(text)

    def piece(self, token: int) -> bytes:
        return self._model.piece(token)

    def close(self) -> None:
        self._model.close()
