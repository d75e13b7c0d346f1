"""Streaming GLM parser cost per token, against a re-parse-on-every-delta baseline.

The transcript is a GLM-4.7 output of about N tokens: some reasoning, then tool calls
whose string arguments are long (file contents), fed one token-sized piece (~4
characters) at a time. "glmserve" is the streaming parser (glmserve.chat.glm47).
"re-parse" is how vLLM's GLM tool parser streams: on every delta it parses the whole
text so far with regular expressions and diffs the arguments against what it sent
before (a faithful, simplified copy of that loop, without its typing work).
Run: .venv/bin/python benchmarks/glm_parser.py
"""

from __future__ import annotations

import argparse
import json
import re
import time

from glmserve.chat import glm47

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "write_file",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            },
        },
    }
]
CHARS_PER_TOKEN = 4


def transcript(tokens: int) -> str:
    line = "    for i in range(n): total += values[i] * weights[i]  # accumulate\n"
    budget = tokens * CHARS_PER_TOKEN
    reasoning = "I will write the files the user asked for. " * 20 + "</think>"
    calls, size = [], len(reasoning)
    i = 0
    while size < budget:
        body = line * 150
        call = (
            f"<tool_call>write_file<arg_key>path</arg_key><arg_value>src/m{i}.py</arg_value>"
            f"<arg_key>content</arg_key><arg_value>{body}</arg_value></tool_call>"
        )
        calls.append(call)
        size += len(call)
        i += 1
    return (reasoning + "".join(calls))[:budget]


def pieces(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def streaming(chunks: list[str]) -> float:
    start = time.perf_counter()
    parser = glm47.parser(TOOLS)
    for chunk in chunks:
        parser.feed(chunk)
    parser.finish()
    return time.perf_counter() - start


_CALL = re.compile(r"<tool_call>(.*?)(<arg_key>.*?)?(?:</tool_call>|$)", re.DOTALL)
_ARG = re.compile(r"<arg_key>(.*?)</arg_key>\s*<arg_value>(.*?)(?:</arg_value>|$)", re.DOTALL)


def _whole(text: str) -> list[str]:
    """A regex parse of the whole text, as vLLM's glm47 parser does on every delta:
    each call's arguments JSON so far (string values, open ones included)."""
    out = []
    for match in _CALL.finditer(text.split("</think>", 1)[-1]):
        args = {k: v for k, v in _ARG.findall(match.group(2) or "")}
        out.append(json.dumps(args, ensure_ascii=False))
    return out


def reparse(chunks: list[str]) -> float:
    start = time.perf_counter()
    text, sent = "", [""]
    for chunk in chunks:
        text += chunk
        now = _whole(text)
        # diff against what was sent: the new suffix of each call's arguments
        for i, args in enumerate(now):
            before = sent[i] if i < len(sent) else ""
            _ = args[len(before) :]
        sent = now
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1000, 5000, 20000])
    args = parser.parse_args()
    print(f"{'tokens':>8} {'glmserve µs/token':>18} {'re-parse µs/token':>18} {'speed-up':>9}")
    for n in args.tokens:
        chunks = pieces(transcript(n))
        ours = min(streaming(chunks) for _ in range(3))
        base = reparse(chunks)
        per = 1e6 / len(chunks)
        print(f"{len(chunks):>8} {ours * per:>18.2f} {base * per:>18.2f} {base / ours:>8.0f}x")


if __name__ == "__main__":
    main()
