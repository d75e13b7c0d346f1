"""The scripted GLM model: a tiny GGUF whose weights make decoding write given scripts.

Tests drive the real, unmodified engine with it: greedy decoding (and, because every
choice wins by a wide margin, the catalog's default sampling too) writes the selected
script token by token and stops at its end token. A script is chosen by what the prompt
contains, so one model can answer a first request with a tool call and the request that
carries the tool result with a final answer.

How the weights do it (docs/testing.md tells what it costs and what it cannot do):

- The vocabulary is a real byte-level BPE (tests/support/bpe.py) with GLM's special
  tokens and end tokens, so prompts tokenize as they would for a real model.
- Every position of every script is written by a token of its own, a *tape* token: a
  normal token whose text decodes to that piece of the script. Tape tokens need texts
  distinct from every other token (llama.cpp's loader refuses duplicate texts), so their
  byte-level text is spelled with overlong UTF-8 sequences, which llama.cpp decodes to
  the same characters. Prompt text never tokenizes into them. A character has at most
  four spellings (one, two, three or four bytes), the standard one being the normal
  token's, so a one-character piece repeated more often joins the next piece.
- Each tape token's embedding is a random unit vector (nearly orthogonal to the others);
  the output row of the next tape token is that vector, so each tape token has exactly
  one successor, and a piece that repeats (``<arg_key>`` twice) is two tape tokens.
- Every other token embeds as the same "prompt" vector, whose output is the first tape
  token of the default script. One attention head looks for trigger tokens (keys large
  only for them, on the dimensions rotary embedding leaves unchanged, so scores do not
  depend on position); a trigger writes its script's direction, which makes that script's
  first token win. Scripts listed earlier have larger keys and win over later ones.
- The feed-forward block is zero.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
from tokenizers import AddedToken

from tests.support.bpe import Vocabulary, byte_level, vocabulary
from tests.support.shared import glm_template

__all__ = [
    "GLM47_TEMPLATE",
    "END_TOKENS",
    "GLM_SPECIALS",
    "Script",
    "ScriptedGlm",
    "build_scripted_glm",
]

GLM47_TEMPLATE = glm_template("glm-4.7")
"""The official GLM-4.7 chat template (``../shared`` beside the repository)."""

# GLM's added tokens and whether GLM's own tokenizer marks them special (control tokens);
# the others (<think>, <tool_call>, ...) are added as non-special (user-defined).
GLM_SPECIALS = {
    "<|endoftext|>": True, "[MASK]": True, "[gMASK]": True, "[sMASK]": True, "<sop>": True,
    "<eop>": True, "<|system|>": True, "<|user|>": True, "<|assistant|>": True,
    "<|observation|>": True, "<think>": False, "</think>": False, "<tool_call>": False,
    "</tool_call>": False, "<tool_response>": False, "</tool_response>": False,
    "<arg_key>": False, "</arg_key>": False, "<arg_value>": False, "</arg_value>": False,
    "/nothink": False,
}  # fmt: skip
END_TOKENS = ("<|user|>", "<|observation|>", "<|endoftext|>")
"""GLM's end-of-turn (EOT), end-of-message (EOM) and end-of-text (EOS) tokens."""

CODE, EMBED, HEAD, FF = 256, 288, 32, 16  # code dimensions, embedding, head, feed-forward
BIAS, PROMPT = CODE, CODE + 1  # dimensions every prompt token has
MAX_TRIGGERS = (EMBED - CODE - 2) // 2  # each has a token dimension and a script direction
QK = HEAD - 2  # the head dimension pair rotary embedding turns the least
ROPE_BASE = 1e20  # ... by about 1e-14 radians over 32K positions
# Output gains. After the final RMSNorm a dimension holding 1 reads about 10-17, so the
# first token of the chosen script wins by about 40 logits or more and each next tape
# token by more than 50 (_check_tape): even sampling at temperature 1 with top_p < 1
# keeps only that token.
TAPE_GAIN, START_GAIN, DEFAULT_GAIN, TRIGGER_GAIN = 6.0, 4.0, 4.0, 8.0


@dataclass(frozen=True)
class Script:
    text: str
    """Exactly what decoding writes, ending with one of END_TOKENS (which ends it)."""
    when: str | None = None
    """Write this script when the prompt contains this token: a GLM special token such as
    ``<tool_response>``, or a word of your own, which the model's vocabulary then holds as
    one user-defined token (matched anywhere in text, like GLM's ``<think>``). None: the
    default script, written when no other script's token is in the prompt. When several
    are, the script listed first wins."""


@dataclass(frozen=True)
class ScriptedGlm:
    path: Path
    pieces: tuple[tuple[bytes, ...], ...]
    """For each script, the bytes each of its tokens writes (the end token left out)."""

    @property
    def completion_tokens(self) -> tuple[int, ...]:
        """Tokens each script takes, its end token included (as usage counts them).

        The same as a prompt holding the text would take, except that a one-character
        piece used more than three times in all the scripts (twice, if it is not ASCII)
        joins the next piece: it has only so many spellings (see the module docstring).
        """
        return tuple(len(p) + 1 for p in self.pieces)


def build_scripted_glm(
    path: Path,
    scripts: Sequence[Script],
    *,
    chat_template: str | Path | None = GLM47_TEMPLATE,
    context: int = 32768,
) -> ScriptedGlm:
    """Write the GGUF to ``path``. ``chat_template``: the template's text or file, or None."""
    if sum(s.when is None for s in scripts) != 1:
        raise ValueError("exactly one script must be the default (when=None)")
    triggers = [s.when for s in scripts if s.when is not None]
    if len(set(triggers)) != len(triggers) or len(triggers) > MAX_TRIGGERS:
        raise ValueError(f"triggers must be distinct and at most {MAX_TRIGGERS}")
    vocab = vocabulary()
    tapes = _tapes(vocab, scripts)
    texts, types = _vocabulary_texts(vocab, tapes, triggers)
    ids = {text: i for i, text in enumerate(texts)}
    if len(ids) != len(texts):
        raise ValueError("a trigger word is already a token of the vocabulary; pick another")
    embed, output = _weights(scripts, tapes, ids)
    template = chat_template.read_text() if isinstance(chat_template, Path) else chat_template
    tensors = {"token_embd": embed, "output": output, **_attention(len(triggers))}
    _write(path, texts, types, vocab.merges, tensors, ids, template, context)
    return ScriptedGlm(path, tuple(t.pieces for t in tapes))


@dataclass(frozen=True)
class _Tape:
    pieces: tuple[bytes, ...]  # the text before the end token, in tape tokens
    aliases: tuple[bytes, ...]  # the tape tokens' texts
    end: str  # the end token


def _tapes(vocab: Vocabulary, scripts: Sequence[Script]) -> list[_Tape]:
    tokenizer = vocab.tokenizer()
    specials = [*GLM_SPECIALS, *(s.when for s in scripts if s.when)]
    tokenizer.add_special_tokens([AddedToken(t, normalized=False) for t in specials])
    to_byte = {c: b for b, c in byte_level().items()}
    used: dict[bytes, Iterator[bytes]] = {}
    tapes = []
    for script in scripts:
        tokens = tokenizer.encode(script.text, add_special_tokens=False).tokens
        end = tokens.pop() if tokens else ""
        if end not in END_TOKENS or any(t in END_TOKENS for t in tokens):
            raise ValueError(f"a script ends with one of {END_TOKENS} and has none before")
        pieces = [t.encode() if t in specials else bytes(to_byte[c] for c in t) for t in tokens]
        tapes.append(_spell(pieces, end, used))
    return tapes


def _spell(pieces: list[bytes], end: str, used: dict[bytes, Iterator[bytes]]) -> _Tape:
    """Give each piece an alias text of its own; a piece whose spellings are all taken
    (a one-character piece repeated more than three times) joins the next piece."""
    done: list[bytes] = []
    aliases: list[bytes] = []
    while pieces:
        piece = pieces.pop(0)
        alias = next(used.setdefault(piece, _overlong_spellings(piece)), None)
        if alias is not None:
            done.append(piece)
            aliases.append(alias)
        elif pieces:
            pieces[0] = piece + pieces[0]
        elif done:
            aliases.pop()
            pieces.append(done.pop() + piece)
        else:
            raise ValueError(f"no spelling left for {piece!r}")
    return _Tape(tuple(done), tuple(aliases), end)


def _overlong_spellings(piece: bytes) -> Iterator[bytes]:
    """The byte-level text of ``piece`` spelled with overlong UTF-8 sequences: every
    spelling but the standard one, which belongs to the vocabulary's own token."""
    chars = [ord(byte_level()[b]) for b in piece]
    options = [[_utf8(cp, n) for n in range(1 if cp < 0x80 else 2, 5)] for cp in chars]
    spellings = itertools.product(*options)
    next(spellings)  # the standard spelling
    for spelling in spellings:
        yield b"".join(spelling)


def _utf8(cp: int, length: int) -> bytes:
    """``cp`` (below 0x800) as a UTF-8 sequence of ``length`` bytes, overlong if need be."""
    if length == 1:
        return bytes([cp])
    low, high = 0x80 | (cp & 0x3F), cp >> 6
    lead = {2: [0xC0 | high], 3: [0xE0, 0x80 | high], 4: [0xF0, 0x80, 0x80 | high]}[length]
    return bytes([*lead, low])


def _vocabulary_texts(
    vocab: Vocabulary, tapes: list[_Tape], triggers: list[str]
) -> tuple[list[bytes], list[int]]:
    """Tape tokens first, then the BPE tokens, GLM's tokens and trigger words."""
    texts = [a for tape in tapes for a in tape.aliases]
    types = [gguf.TokenType.NORMAL] * len(texts)
    texts += [t.encode() for t in vocab.tokens]
    types += [gguf.TokenType.NORMAL] * len(vocab.tokens)
    for text, control in GLM_SPECIALS.items():
        texts.append(text.encode())
        types.append(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED)
    for word in triggers:
        if word not in GLM_SPECIALS:
            texts.append(word.encode())
            types.append(gguf.TokenType.USER_DEFINED)
    return texts, [int(t) for t in types]


def _weights(
    scripts: Sequence[Script], tapes: list[_Tape], ids: dict[bytes, int]
) -> tuple[np.ndarray, np.ndarray]:
    n_tape = sum(len(t.aliases) for t in tapes)
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((n_tape, CODE)).astype(np.float32)
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    embed = np.zeros((len(ids), EMBED), np.float32)
    output = np.zeros_like(embed)
    embed[n_tape:, BIAS] = embed[n_tape:, PROMPT] = 1.0
    embed[:n_tape, :CODE] = codes
    successors = np.zeros(n_tape, np.int64)
    trigger_rank = 0
    for script, tape in zip(scripts, tapes, strict=True):
        chain = [ids[a] for a in tape.aliases] + [ids[tape.end.encode()]]
        start = np.zeros(EMBED, np.float32)
        start[PROMPT] = START_GAIN
        if script.when is None:
            start[BIAS] = DEFAULT_GAIN
        else:
            embed[ids[script.when.encode()], _token_dim(trigger_rank)] = 1.0
            start[_script_dim(trigger_rank)] = TRIGGER_GAIN
            trigger_rank += 1
        output[chain[0]] += start
        for token, successor in itertools.pairwise(chain):
            output[successor, :CODE] += TAPE_GAIN * codes[token]
            successors[token] = successor
    _check_tape(codes, output[:, :CODE], successors)
    return embed, output


def _token_dim(rank: int) -> int:
    return PROMPT + 1 + rank


def _script_dim(rank: int) -> int:
    return PROMPT + 1 + MAX_TRIGGERS + rank


def _check_tape(codes: np.ndarray, rows: np.ndarray, successors: np.ndarray) -> None:
    """Each tape token's successor must beat every other token by half its own logit
    (random codes are only nearly orthogonal; a very long tape could break this)."""
    used = np.flatnonzero(np.abs(rows).sum(axis=1))
    column = np.searchsorted(used, successors)
    for lo in range(0, len(codes), 1024):
        logits = codes[lo : lo + 1024] @ rows[used].T
        mine = column[lo : lo + 1024]
        best = logits[np.arange(len(mine)), mine]
        logits[np.arange(len(mine)), mine] = -np.inf
        if np.any(best - logits.max(axis=1) < TAPE_GAIN / 2):
            raise ValueError("the scripts are too long for the tape's code dimensions")


def _attention(n_triggers: int) -> dict[str, np.ndarray]:
    """One head: every prompt token queries; trigger tokens answer with their script.

    Inputs are RMS-normalized, so a dimension holding 1 reads sqrt(EMBED / 2) or, in
    a trigger token (three dimensions hold 1), sqrt(EMBED / 3).
    """
    q = np.zeros((HEAD, EMBED), np.float32)
    k = np.zeros_like(q)
    v = np.zeros_like(q)
    o = np.zeros((EMBED, HEAD), np.float32)
    unit = np.sqrt(EMBED / 3)
    q[QK, BIAS] = 1.0
    for rank in range(n_triggers):
        score = 40.0 + 20.0 * (n_triggers - 1 - rank)  # exp(40) outweighs 32K other positions
        k[QK, _token_dim(rank)] = score * np.sqrt(HEAD) / unit**2
        v[rank, _token_dim(rank)] = 1.0 / unit
        o[_script_dim(rank), rank] = 1.0
    return {"attn_q": q, "attn_k": k, "attn_v": v, "attn_output": o}


def _write(
    path: Path,
    texts: list[bytes],
    types: list[int],
    merges: Sequence[str],
    tensors: dict[str, np.ndarray],
    ids: dict[bytes, int],
    template: str | None,
    context: int,
) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("scripted-glm")
    writer.add_context_length(context)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_key_length(HEAD)
    writer.add_value_length(HEAD)
    writer.add_rope_dimension_count(HEAD)
    writer.add_rope_freq_base(ROPE_BASE)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(texts)
    writer.add_token_types(types)
    writer.add_token_merges([m.encode() for m in merges])
    writer.add_bos_token_id(ids[b"[gMASK]"])
    writer.add_eos_token_id(ids[b"<|endoftext|>"])
    writer.add_eot_token_id(ids[b"<|user|>"])
    writer.add_eom_token_id(ids[b"<|observation|>"])
    writer.add_add_bos_token(False)  # the template writes [gMASK]<sop> itself
    if template is not None:
        writer.add_chat_template(template)
    tensors = {
        **tensors,
        "ffn_gate": np.zeros((FF, EMBED), np.float32),
        "ffn_up": np.zeros((FF, EMBED), np.float32),
        "ffn_down": np.zeros((EMBED, FF), np.float32),
    }
    for name, weight in tensors.items():
        full = name if name in ("token_embd", "output") else f"blk.0.{name}"
        writer.add_tensor(f"{full}.weight", weight.astype(np.float16))
    for norm in ("output_norm", "blk.0.attn_norm", "blk.0.ffn_norm"):
        writer.add_tensor(f"{norm}.weight", np.ones(EMBED, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
