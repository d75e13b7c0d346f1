"""The streaming parser of GLM's output format, shared by the glm45 and glm47 families.

GLM writes reasoning between ``<think>`` and ``</think>`` and calls tools as
``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>`` (GLM-4.5
and 4.6 put newlines between the tags; GLM-4.7 does not; both are accepted). This is a
state machine over the text as it arrives: every character is looked at a bounded
number of times, and only a possible tag prefix (at most 13 characters), a tool name, an
argument key or a non-string value is held back, so the cost is linear in the output.
String values stream as they arrive. Whole-text parsing is the same machine fed once,
so streamed and whole results agree by construction.

Outcomes of malformed output (docs/glm-format.md lists them with the reasons):

- no ``</think>`` before the end: the text stays reasoning (it was streamed as such);
- ``<tool_call>`` inside reasoning ends the reasoning;
- a call to an undeclared tool name: the call's raw text is content, not a tool call;
- text between and after calls is content (whitespace at the ends of the whole content
  and of the whole reasoning is dropped);
- a missing ``<arg_value>``: the value starts at the first non-space character after
  ``</arg_key>`` and ends at ``</arg_value>``;
- the two characters backslash-n where GLM-4.5's layout has a newline (after the name,
  between arguments, between ``</arg_key>`` and ``<arg_value>``): layout, dropped;
- a key without a value: dropped;
- an unclosed ``<tool_call>`` at the end: the call is closed with what was parsed (its
  name must be complete and declared; otherwise its text is content).
"""

from __future__ import annotations

import json
import re
from typing import Any

from glmserve.chat.output import Delta
from glmserve.chat.schema import ArgSpec, ToolSpecs, convert_value

__all__ = ["GlmStreamParser"]

THINK, END_THINK = "<think>", "</think>"
CALL, END_CALL = "<tool_call>", "</tool_call>"
KEY, END_KEY = "<arg_key>", "</arg_key>"
VALUE, END_VALUE = "<arg_value>", "</arg_value>"

_MAX_NAME = 256  # a "name" longer than any declared one is not a call: its text is content

# The tags each state reacts to; anything else is text of that state.
_TAGS: dict[str, tuple[str, ...]] = {
    "content": (THINK, END_THINK, CALL),
    "reasoning": (THINK, END_THINK, CALL),
    "name": ("\n", KEY, END_CALL),
    "args": (KEY, END_CALL),
    "key": (END_KEY, VALUE, END_CALL),
    "await_value": (VALUE, END_CALL),
    "value": (END_VALUE, END_CALL),
    "raw_call": (END_CALL,),
}
_PATTERNS = {s: re.compile("|".join(re.escape(t) for t in tags)) for s, tags in _TAGS.items()}
_PREFIXES = {
    s: frozenset(t[:i] for t in tags for i in range(1, len(t))) for s, tags in _TAGS.items()
}
_LONGEST = max(len(t) for tags in _TAGS.values() for t in tags)


def _escaped(text: str) -> str:
    """Text as the inside of a JSON string; escaping is per character, so pieces
    escaped one by one join to the escaped whole."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _without_layout(text: str) -> str:
    """``text`` without the layout at its start: whitespace, and the two characters
    backslash-n that models sometimes write where GLM-4.5's layout has a newline. A
    lone trailing backslash may still become one: the caller waits for more."""
    while True:
        stripped = text.lstrip()
        if not stripped.startswith("\\n"):
            return stripped
        text = stripped[2:]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class GlmStreamParser:
    """Feed raw completion text piece by piece; get reasoning, content and tool-call deltas.

    ``reasoning`` says whether the prompt left the model inside ``<think>`` (GLM-4.7 with
    thinking on); otherwise output starts as content and a ``<think>`` block in it is
    reasoning (GLM-4.5/4.6 decide themselves whether to think).
    """

    def __init__(self, tools: ToolSpecs, *, reasoning: bool) -> None:
        self._tools = tools
        self._state = "reasoning" if reasoning else "content"
        self._buf = ""
        self._out: list[Delta] = []
        # Whitespace at either end of the content and of the reasoning belongs to the
        # format (the templates strip both when rendering history): leading whitespace
        # is dropped, trailing whitespace is held until more text of its kind follows.
        self._started = {"content": False, "reasoning": False}
        self._held = {"content": "", "reasoning": ""}
        self._calls = 0
        self._index = -1  # of the call being parsed
        self._call_name = ""
        self._name = ""  # raw text of the call's name so far
        self._key = ""
        self._args = 0  # arguments written in the current call
        self._spec: ArgSpec | None = None
        self._value: list[str] = []  # a held (non-string, or maybe-null) value's text
        self._value_streaming = False
        self._closed_calls = 0
        self._layout = ""  # text between </arg_key> and <arg_value>, while it may be layout

    @property
    def in_reasoning(self) -> bool:
        """The text so far leaves the model inside its thinking block."""
        return self._state == "reasoning"

    @property
    def call_opened(self) -> str | None:
        """While the model is writing a call's name right after ``<tool_call>``: the
        name's text so far (often empty); None otherwise. The serving layer constrains
        the rest of the call from there (strict tools, docs/glm-format.md)."""
        return self._name if self._state == "name" else None

    @property
    def closed_calls(self) -> int:
        """Tool calls written to their end (or closed by the end of the output)."""
        return self._closed_calls

    def feed(self, text: str) -> list[Delta]:
        self._buf += text
        self._run(final=False)
        return self._take()

    def finish(self) -> list[Delta]:
        self._run(final=True)
        state = self._state
        if state == "name":
            self._end_name(None)
        if self._state in ("args", "key", "await_value"):
            self._close_call()
        elif self._state == "value":
            self._end_value()
            self._close_call()
        self._state = "done"
        return self._take()

    # -- scanning --

    def _run(self, *, final: bool) -> None:
        while self._buf:
            state = self._state
            match = _PATTERNS[state].search(self._buf)
            if match is None:
                keep = 0 if final else self._holdback(state)
                cut = len(self._buf) - keep
                text, self._buf = self._buf[:cut], self._buf[cut:]
            else:
                text, self._buf = self._buf[: match.start()], self._buf[match.start() :]
            if text:
                rest = self._text(text)
                if rest:  # the text changed the state: the rest is read in the new one
                    self._buf = rest + self._buf
                    continue
            if match is None:
                return
            self._buf = self._buf[len(match.group()) :]
            self._tag(match.group())

    def _holdback(self, state: str) -> int:
        """Length of the longest end of the buffer that may begin one of the state's tags."""
        buf, prefixes = self._buf, _PREFIXES[state]
        i = buf.find("<", max(0, len(buf) - _LONGEST + 1))
        while i != -1:
            if buf[i:] in prefixes:
                return len(buf) - i
            i = buf.find("<", i + 1)
        return 0

    def _take(self) -> list[Delta]:
        out, self._out = self._out, []
        merged: list[Delta] = []
        for d in out:
            last = merged[-1] if merged else None
            if last and last.kind == d.kind and last.index == d.index and d.name is None:
                merged[-1] = Delta(d.kind, last.text + d.text, d.index, last.name)
            else:
                merged.append(d)
        return merged

    # -- text of a state --

    def _text(self, text: str) -> str:
        """Take the text of the current state; return what is left for the next one."""
        state = self._state
        if state in ("content", "reasoning"):
            self._section_text(state, text)
        elif state == "name":
            self._name += text
            if len(self._name) > _MAX_NAME:
                self._to_raw_call("")
        elif state == "key":
            self._key += text
        elif state == "await_value":
            self._layout += text
            rest = _without_layout(self._layout)
            if rest and rest != "\\":  # no <arg_value>: the value starts here
                self._layout = ""
                self._start_value()
                return rest
        elif state == "value":
            self._value_text(text)
        elif state == "raw_call":
            self._section_text("content", text)
        # "args": text between arguments is layout (or junk): dropped
        return ""

    def _section_text(self, kind: str, text: str) -> None:
        if not self._started[kind]:
            text = text.lstrip()
            if not text:
                return
            self._started[kind] = True
        body = text.rstrip()
        if not body:
            self._held[kind] += text
            return
        self._emit(kind, self._held[kind] + body)
        self._held[kind] = text[len(body) :]

    def _new_section(self, state: str) -> None:
        self._state = state

    # -- tags --

    def _tag(self, tag: str) -> None:
        state = self._state
        if state == "content":
            if tag == THINK:
                self._new_section("reasoning")
            elif tag == CALL:
                self._start_call()
            # a stray </think> in content is a format token, not text: dropped
        elif state == "reasoning":
            if tag == CALL:  # the model started calling without closing its thinking
                self._start_call()
            elif tag == END_THINK:
                self._new_section("content")
            # a <think> repeated inside reasoning (the prompt opened it already): dropped
        elif state == "name":
            self._end_name(tag)
        elif state == "args":
            if tag == KEY:
                self._state, self._key = "key", ""
            else:
                self._close_call()
        elif state == "key":
            if tag == END_KEY:
                self._state = "await_value"
            elif tag == VALUE:  # </arg_key> missing
                self._start_value()
            else:
                self._close_call()  # a key without a value is dropped
        elif state == "await_value":
            self._layout = ""
            if tag == VALUE:
                self._start_value()
            else:
                self._close_call()
        elif state == "value":
            self._end_value()
            if tag == END_CALL:
                self._close_call()
        elif state == "raw_call":
            self._section_text("content", tag)
            self._new_section("content")

    # -- calls --

    def _start_call(self) -> None:
        self._state, self._name = "name", ""

    def _end_name(self, tag: str | None) -> None:
        """The name ended at ``tag`` (None: at the end of the output)."""
        name = self._name.strip()
        if tag == "\n" and not name:
            self._name += tag  # a newline before the name is layout
            return
        name = name.removesuffix("\\n").strip()  # a literal backslash-n the model wrote
        if not self._tools.declared(name):
            self._to_raw_call(tag or "")
            if tag == END_CALL:
                self._new_section("content")
            return
        self._emit_call(name)
        if tag == KEY:
            self._state, self._key = "key", ""
        elif tag == "\n":
            self._state = "args"
        else:
            self._close_call()

    def _to_raw_call(self, tail: str) -> None:
        self._section_text("content", CALL + self._name + tail)  # content, verbatim
        self._state = "raw_call"

    def _emit_call(self, name: str) -> None:
        self._index = self._calls
        self._calls += 1
        self._args = 0
        self._call_name = name
        self._out.append(Delta("tool_call", "", self._index, name))

    def _close_call(self) -> None:
        self._arg_text("}" if self._args else "{}")
        self._closed_calls += 1
        self._new_section("content")

    def _start_value(self) -> None:
        key = self._key.strip()
        self._spec = self._tools.arg(self._call_name, key)
        self._arg_text(("{" if self._args == 0 else ", ") + _dumps(key) + ": ")
        self._args += 1
        self._state = "value"
        self._value = []
        self._value_streaming = self._spec.kind == "string"
        if self._value_streaming:
            self._arg_text('"')

    def _value_text(self, text: str) -> None:
        if self._value_streaming:
            self._arg_text(_escaped(text))
            return
        self._value.append(text)
        assert self._spec is not None
        if self._spec.kind == "nullable_string":
            held = "".join(self._value)
            if not "null".startswith(held.strip()) or held != held.lstrip():
                # not null after all: a plain string from here on
                self._value, self._value_streaming = [], True
                self._arg_text('"' + _escaped(held))

    def _end_value(self) -> None:
        assert self._spec is not None
        if self._value_streaming:
            self._arg_text('"')
        else:
            self._arg_text(_dumps(convert_value("".join(self._value), self._spec)))
        self._value = []
        self._state = "args"

    def _arg_text(self, text: str) -> None:
        self._out.append(Delta("tool_call", text, self._index))

    def _emit(self, kind: str, text: str) -> None:
        if text:
            self._out.append(Delta(kind, text))  # type: ignore[arg-type]
