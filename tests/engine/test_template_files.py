"""A chat template beside the weights serves a GGUF that carries none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmserve.config import ConfigError, load_settings
from glmserve.serving.models.registry import load_models, template_beside
from tests.e2e.tiny_glm import build
from tests.support.shared import glm_template

TEMPLATE = glm_template("glm-4.7").read_text()
MESSAGES = [{"role": "user", "content": "Hi"}]


def test_tokenizer_config_and_chat_template_jinja(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    assert template_beside(gguf) is None
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": [{"name": "default", "template": "A"}, {"name": "x"}]})
    )
    assert template_beside(gguf) == "A"
    (tmp_path / "chat_template.jinja").write_text("B")
    assert template_beside(gguf) == "B"  # the .jinja file wins, as in transformers
    (tmp_path / "chat_template.jinja").unlink()
    (tmp_path / "tokenizer_config.json").write_text("[1")
    with pytest.raises(ConfigError):
        template_beside(gguf)


def test_a_served_gguf_without_template_uses_the_one_beside_it(tmp_path: Path) -> None:
    gguf = build(tmp_path / "glm.gguf", None)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": TEMPLATE}))
    config = tmp_path / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n"
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 256\n'
    )
    registry = load_models(load_settings(config, environ={}), progress=False)
    try:
        model = registry.get("glm-4.7")
        assert model is not None and model.template_origin == "file"
        assert model.template.render(MESSAGES, enable_thinking=True) == (
            "[gMASK]<sop><|user|>Hi<|assistant|><think>"
        )
    finally:
        registry.close()
