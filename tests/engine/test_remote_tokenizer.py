"""The gateway's tokenizer from a Hugging Face folder: special tokens, BOS, the template,
end-of-generation ids and byte-exact pieces (multi-byte characters split across tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

from glmserve.engine.remote.tokenizer import load_tokenizer
from glmserve.engine.text import TextStream


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tok")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["hello world, the quick brown fox"] * 50, trainer)
    tok.add_special_tokens(["[gMASK]", "<sop>", "<|endoftext|>", "<|user|>"])
    tok.add_tokens([AddedToken("<think>", special=False), AddedToken("</think>", special=False)])
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"eos_token": "<|endoftext|>", "chat_template": "from-config"})
    )
    (folder / "chat_template.jinja").write_text("[gMASK]<sop>{{ messages }}")
    user = tok.token_to_id("<|user|>")
    eos = tok.token_to_id("<|endoftext|>")
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [eos, user]}))
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 2048}))
    return folder


def test_folder_gives_template_stops_and_special_tokens(hf_folder: Path) -> None:
    tok = load_tokenizer(hf_folder)
    assert tok.chat_template == "[gMASK]<sop>{{ messages }}"  # the .jinja file wins
    assert tok.eos_token == "<|endoftext|>" and tok.bos_token == ""
    assert tok.trained_context == 2048
    ids = tok.encode("[gMASK]<sop><think>hello</think>")
    assert tok.piece(ids[0]) == b"[gMASK]" and tok.piece(ids[2]) == b"<think>"
    assert len(tok.stop_ids) == 2 and tok.encode("<|user|>")[0] in tok.stop_ids


def test_pieces_are_bytes_and_join_back_exactly(hf_folder: Path) -> None:
    tok = load_tokenizer(hf_folder)
    text = "hello 你好 wörld 🦊<think>x"
    ids = tok.encode(text)
    assert b"".join(tok.piece(t) for t in ids) == text.encode("utf-8")
    stream = TextStream(("</think>",))
    out = "".join(stream.push(tok.piece(t)) for t in ids) + stream.flush()
    assert out == text  # partial characters are held back, never garbled


def test_a_path_that_is_neither_folder_nor_gguf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Hugging Face folder or a \.gguf"):
        load_tokenizer(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"no tokenizer\.json"):
        load_tokenizer(tmp_path)
