"""Built-in prompt formats, for weights that carry no chat template of their own.

A format is a Jinja chat template plus what the server must know to use it: the strings
that end the assistant's turn, and whether the reply's surrounding whitespace is part
of the format rather than of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PromptFormat", "BUILTIN_FORMATS"]


@dataclass(frozen=True)
class PromptFormat:
    name: str
    template: str
    stop: tuple[str, ...] = ()
    """Strings that end the assistant's turn in this format (added to the request's)."""
    trim: bool = False
    """Whitespace around the reply belongs to the format: strip it from the content."""


# A plain-text conversation transcript. Base (pre-trained) models such as the embedded
# Gemma 3 270M were never taught chat markers, but they continue a transcript well: the
# reply follows "Assistant:", and the model's next "User:" line ends it.
_TRANSCRIPT = """\
{{- bos_token -}}
{%- set ns = namespace(system='') -%}
{%- for m in messages if m['role'] == 'system' -%}
  {%- set ns.system = ns.system + ('\n' if ns.system else '') + m['content'] -%}
{%- endfor -%}
{{- ns.system or 'The following is a conversation between a user and a helpful assistant.' -}}
{{- '\n\n' -}}
{%- for m in messages if m['role'] != 'system' -%}
  {%- if m['role'] == 'user' -%}
    {{- 'User: ' + m['content'] + '\n' -}}
  {%- elif m['role'] == 'tool' -%}
    {{- 'Tool: ' + m['content'] + '\n' -}}
  {%- else -%}
    {{- 'Assistant: ' + (m['content'] or '') -}}
    {%- for call in m.get('tool_calls') or [] -%}
      {%- set args = call['function']['arguments'] | tojson -%}
      {{- '[call ' + call['function']['name'] + ' ' + args + ']' -}}
    {%- endfor -%}
    {{- '\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- 'Assistant:' -}}{%- endif -%}
"""

# ChatML, the common fallback for a user's model whose GGUF has no template.
_CHATML = """\
{%- for m in messages -%}
  {{- '<|im_start|>' + m['role'] + '\n' + (m['content'] or '') + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""

BUILTIN_FORMATS: dict[str, PromptFormat] = {
    f.name: f
    for f in (
        PromptFormat("transcript", _TRANSCRIPT, stop=("\nUser:",), trim=True),
        PromptFormat("chatml", _CHATML, stop=("<|im_end|>",)),
    )
}
