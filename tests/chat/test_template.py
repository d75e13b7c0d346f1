"""Chat templates: the built-in Gemma format, and official GLM templates in our sandbox."""

import pytest

from glmserve.chat.formats import BUILTIN_FORMATS
from glmserve.chat.template import ChatTemplate, TemplateError
from tests.support.shared import shared_path

SHARED = shared_path("glm", "templates")


def _transcript() -> ChatTemplate:
    return ChatTemplate(BUILTIN_FORMATS["transcript"].template, bos_token="<bos>")


def test_transcript_format() -> None:
    prompt = _transcript().render(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Bye"},
        ]
    )
    assert prompt == "<bos>Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: Bye\nAssistant:"


def test_transcript_without_system_has_a_preamble() -> None:
    prompt = _transcript().render([{"role": "user", "content": "Hi"}])
    assert prompt == (
        "<bos>The following is a conversation between a user and a helpful assistant.\n\n"
        "User: Hi\nAssistant:"
    )


def test_transcript_shows_tool_calls_and_results() -> None:
    prompt = _transcript().render(
        [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                ],
            },
            {"role": "tool", "content": "sunny"},
        ],
        add_generation_prompt=False,
    )
    assert prompt.endswith('Assistant: [call get_weather {"city": "Paris"}]\nTool: sunny\n')


def test_transcript_stops_at_the_next_user_line() -> None:
    assert BUILTIN_FORMATS["transcript"].stop == ("\nUser:",)


def test_raise_exception_in_a_template_is_a_template_error() -> None:
    template = ChatTemplate("{{ raise_exception('no system role') }}")
    with pytest.raises(TemplateError, match="no system role"):
        template.render([{"role": "user", "content": "x"}])


def test_sandbox_blocks_attribute_escape() -> None:
    template = ChatTemplate("{{ ''.__class__.__mro__ }}")
    with pytest.raises(TemplateError):
        template.render([])


@pytest.mark.parametrize("name", ["glm-4.5.jinja", "glm-4.6.jinja", "glm-4.7.jinja"])
def test_official_glm_templates_render(name: str) -> None:
    template = ChatTemplate((SHARED / name).read_text())
    prompt = template.render(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        enable_thinking=False,
    )
    assert prompt.startswith("[gMASK]<sop>")
    assert "<|system|>" in prompt and "<|user|>" in prompt
    assert "<|assistant|>" in prompt
