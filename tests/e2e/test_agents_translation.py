"""The translation agent end to end: zai-sdk and HTTP against a keyed glmserve whose
glm-4.7 is the scripted GLM model (tests/support/scripted_glm.py).

Each step of a strategy names itself in its prompt (``Task VERBATIM: ...``); the scripted
model answers each step with that step's script, so the tests see exactly which calls a
strategy made, in which order, with which prompts (the prompt log), and that the usage
of the response and of the ledger is the sum of those calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from zai import ZaiClient

from tests.platform.gateway import Gateway, auth
from tests.support.scripted_glm import END_TOKENS, Script, ScriptedGlm, build_scripted_glm

ANSWERS = {
    "TRANSLATE": "Bonjour de la part de l'équipe Bidule.",
    "PARAPHRASE": "L'équipe Bidule vous passe le bonjour !",
    "VERBATIM": "Bonjour depuis l'équipe Bidule.",
    "REFINE": "Toute l'équipe Bidule vous salue.",
    "FAITHFUL": "Salutations de l'équipe Bidule.",
    "EXPRESSIVE": "L'équipe Bidule vous adresse ses salutations.",
    "ELEGANT": "Recevez les hommages de l'équipe Bidule.",
    "CRITIQUE": "Accurate, but 'depuis' is stiff; prefer a warmer greeting.",
    "REVISE": "Chaleureuses salutations de l'équipe Bidule.",
    "ANALYZE": "Hello is a greeting; the team name is a glossary term.",
    "FINALIZE": "Un bonjour de l'équipe Bidule.",
    "TRANSCRIBE": "nǐ hǎo shì jiè",
}
STEPS = list(ANSWERS)
# GLM's three end tokens take turns: the output row of an end token adds up the codes of
# every script ending with it, and a dozen scripts on one would blur it.
SCRIPTS = [
    Script(f"{text}{END_TOKENS[i % 3]}", when=step)
    for i, (step, text) in enumerate(ANSWERS.items())
]
SCRIPTS.append(Script("No step was named.<|user|>"))
SOURCE = "Hello from the Widget team."
GLOSSARY = {"Widget": "Bidule"}
BLOCKED = "zorblax"
"""The content-safety keyword of the server's [safety] section."""


class PromptLog:
    """The prompts the server rendered since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def new(self) -> list[str]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        fresh = [json.loads(line) for line in lines[self.seen :]]
        self.seen = len(lines)
        return fresh


class Agents:
    def __init__(self, gateway: Gateway, prompts: PromptLog, model: ScriptedGlm) -> None:
        self.gateway = gateway
        self.prompts = prompts
        self.model = model
        self.key = gateway.create_key("V3")

    def client(self, key: str | None = None) -> ZaiClient:
        return ZaiClient(api_key=key or self.key, base_url=self.gateway.zai_base)

    def post(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        url = f"{self.gateway.base}/api/v1/agents"
        return httpx.post(url, json=body, headers=auth(key or self.key), timeout=120)

    def tokens(self, *steps: str) -> int:
        return sum(self.model.completion_tokens[STEPS.index(step)] for step in steps)

    def steps_of(self, prompts: list[str]) -> list[str]:
        """Which step each prompt was, by the name heading its user message."""
        named = []
        for prompt in prompts:
            found = [s for s in STEPS if f"Task {s}:" in prompt]
            assert len(found) == 1, prompt
            named.append(found[0])
        return named


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agents]:
    tmp = tmp_path_factory.mktemp("agents")
    model = build_scripted_glm(tmp / "scripted-glm.gguf", SCRIPTS)
    config = tmp / "glmserve.toml"
    from tests.platform.gateway import ADMIN_KEY, SECRET_KEY

    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\ndata_dir = "{tmp / "data"}"\nadmin_key = "{ADMIN_KEY}"\n'
        f'secret_key = "{SECRET_KEY}"\n\n'
        "[embeddings]\ndefault_model = false\n\n"
        f'[safety]\nkeywords = ["{BLOCKED}"]\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{model.path}"\ncontext_size = 4096\n'
    )
    prompts = tmp / "prompts.jsonl"
    gateway = Gateway(config, tmp / "server.log", env={"GLMSERVE_PROMPT_LOG": str(prompts)})
    try:
        yield Agents(gateway, PromptLog(prompts), model)
    finally:
        gateway.stop()


def _translate(strategy: str, **variables: Any) -> dict[str, Any]:
    return {
        "agent_id": "general_translation",
        "messages": [{"role": "user", "content": [{"type": "text", "text": SOURCE}]}],
        "custom_variables": {
            "source_lang": "en",
            "target_lang": "fr",
            "strategy": strategy,
            "glossary": GLOSSARY,
            **variables,
        },
    }


CASES = [
    ("general", ["TRANSLATE"], None),
    ("paraphrase", ["PARAPHRASE"], None),
    ("two_step", ["VERBATIM", "REFINE"], None),
    ("three_step", ["FAITHFUL", "EXPRESSIVE", "ELEGANT"], None),
    ("reflection", ["TRANSLATE", "CRITIQUE", "REVISE"], "CRITIQUE"),
    ("cot", ["ANALYZE", "FINALIZE"], "ANALYZE"),
]


@pytest.mark.parametrize(("strategy", "steps", "explained"), CASES)
def test_each_strategy_makes_its_calls_in_order(
    agents: Agents, strategy: str, steps: list[str], explained: str | None
) -> None:
    agents.prompts.new()
    response = agents.post(_translate(strategy))
    assert response.status_code == 200, response.text
    body = response.json()

    prompts = agents.prompts.new()
    assert agents.steps_of(prompts) == steps
    for prompt in prompts:  # every call sees the source, the languages and the glossary
        assert SOURCE in prompt
        assert "The source text is in English." in prompt
        assert "- Widget → Bidule" in prompt
    # each later step is given what the earlier ones wrote
    for i, step in enumerate(steps[1:], 1):
        assert ANSWERS[steps[i - 1]] in prompts[i], step

    choice = body["choices"][0]
    assert body["agent_id"] == "general_translation" and body["status"] == "success"
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "role": "assistant",
        "content": {"type": "text", "text": ANSWERS[steps[-1]]},
    }
    assert "Bidule" in choice["message"]["content"]["text"]  # the glossary term, used
    contents = [m["content"] for m in choice["messages"]]
    if explained is None:
        assert contents == [choice["message"]["content"]]
    else:
        assert contents[0] == {"type": "explanation", "text": ANSWERS[explained]}
    usage = body["usage"]
    assert usage["completion_tokens"] == agents.tokens(*steps)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > len(steps) * 20


def test_usage_in_the_ledger_is_the_sum_of_the_calls(agents: Agents) -> None:
    key = agents.gateway.create_key("V3")
    body = agents.post(_translate("reflection"), key=key).json()
    ledger = agents.gateway.usage(key, settled=1)
    assert ledger["requests"] == 1 and ledger["errors"] == 0
    assert ledger["completion_tokens"] == agents.tokens("TRANSLATE", "CRITIQUE", "REVISE")
    assert ledger["prompt_tokens"] == body["usage"]["prompt_tokens"]


def test_zai_sdk_invoke_and_stream(agents: Agents) -> None:
    agents.prompts.new()
    client = agents.client()
    request = _translate("cot", suggestion="Keep it warm and short.")
    whole = client.agents.invoke(
        agent_id=request["agent_id"],
        messages=request["messages"],
        custom_variables=request["custom_variables"],
    )
    assert whole.choices[0].message.content == {"type": "text", "text": ANSWERS["FINALIZE"]}
    assert whole.usage is not None
    assert whole.usage.completion_tokens == agents.tokens("ANALYZE", "FINALIZE")
    prompts = agents.prompts.new()
    assert len(prompts) == 2
    assert all("The user's guidance for this translation: Keep it warm" in p for p in prompts)

    chunks = list(
        client.agents.invoke(
            agent_id=request["agent_id"],
            messages=request["messages"],
            custom_variables=request["custom_variables"],
            stream=True,
        )
    )
    contents = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert contents[0] == {"type": "explanation", "text": ANSWERS["ANALYZE"]}
    pieces = [c["text"] for c in contents[1:]]
    assert all(c["type"] == "text" for c in contents[1:])
    assert len(pieces) > 3  # the last call streams token by token
    assert "".join(pieces) == ANSWERS["FINALIZE"]
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None
    assert last.usage.completion_tokens == agents.tokens("ANALYZE", "FINALIZE")
    assert all(c.agent_id == "general_translation" and c.id == chunks[0].id for c in chunks)


def test_source_language_is_detected(agents: Agents) -> None:
    agents.prompts.new()
    body = _translate("general", source_lang="auto")
    body["messages"] = "你好我们是团队。这是我们的产品。"
    assert agents.post(body).status_code == 200
    (prompt,) = agents.prompts.new()
    assert "The source text is in Simplified Chinese." in prompt


def test_pinyin_is_one_transcription_call(agents: Agents) -> None:
    agents.prompts.new()
    body = _translate("general", source_lang="zh-CN", target_lang="pinyin")
    body["messages"] = "你好世界"
    answer = agents.post(body).json()
    assert answer["choices"][0]["message"]["content"]["text"] == ANSWERS["TRANSCRIBE"]
    (prompt,) = agents.prompts.new()
    assert "Hanyu Pinyin" in prompt


def _upload(agents: Agents, key: str, name: str, data: bytes) -> str:
    response = httpx.post(
        f"{agents.gateway.zai_base}files",
        headers=auth(key),
        files={"file": (name, data, "text/plain")},
        data={"purpose": "agent"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    file_id: str = response.json()["id"]
    return file_id


def test_glossary_file_is_used_and_other_keys_files_are_refused(agents: Agents) -> None:
    file_id = _upload(agents, agents.key, "terms.tsv", b"# our terms\nWidget\tMachin\n")
    agents.prompts.new()
    answer = agents.post(_translate("general", glossary=file_id))
    assert answer.status_code == 200, answer.text
    (prompt,) = agents.prompts.new()
    assert "- Widget → Machin" in prompt

    spreadsheet = httpx.post(
        f"{agents.gateway.zai_base}files",
        headers=auth(agents.key),
        files={"file": ("terms.xlsx", b"PK\x03\x04", "application/octet-stream")},
        data={"purpose": "agent"},
        timeout=30,
    )
    assert spreadsheet.status_code == 400 and spreadsheet.json()["error"]["code"] == "1214"

    other = agents.gateway.create_key("V0")
    refused = agents.post(_translate("general", glossary=file_id), key=other)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "1214" and "custom_variables.glossary" in error["message"]
    assert agents.prompts.new() == []  # refused before any model call


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"agent_id": "no_such_agent", "messages": "hi"}, "1214", "agent_id"),
        ({"messages": "hi"}, "1213", "agent_id"),
        (
            {"agent_id": "general_translation", "messages": "hi", "custom_variables": {}},
            "1213",
            "custom_variables.target_lang",
        ),
        (
            {
                "agent_id": "general_translation",
                "messages": "hi",
                "custom_variables": {"target_lang": "klingon"},
            },
            "1214",
            "custom_variables.target_lang",
        ),
        (
            {
                "agent_id": "general_translation",
                "messages": "hi",
                "custom_variables": {"target_lang": "fr", "strategy": "poetic"},
            },
            "1214",
            "custom_variables.strategy",
        ),
        (
            {
                "agent_id": "general_translation",
                "messages": "hi",
                "custom_variables": {"target_lang": "fr", "tone": "warm"},
            },
            "1214",
            "custom_variables.tone",
        ),
        ({"agent_id": "french_kiss", "messages": "hi"}, "1214", "video generation engine"),
    ],
)
def test_bad_requests_are_zai_errors_naming_the_field(
    agents: Agents, body: dict[str, Any], code: str, field: str
) -> None:
    response = agents.post(body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["message"]


def test_content_safety_screens_the_calls(agents: Agents) -> None:
    body = _translate("general")
    body["messages"] = f"Hello from the {BLOCKED} team."
    blocked = agents.post(body)
    assert blocked.status_code == 400 and blocked.json()["error"]["code"] == "1301"
    # Turning the checks off is for keys an administrator allowed (docs/safety.md).
    body["sensitive_word_check"] = {"type": "ALL", "status": "DISABLE"}
    refused = agents.post(body)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "1220" and "sensitive_word_check" in error["message"]
