"""``glmserve keys ...`` and ``glmserve usage``: the platform from the command line.

They work on the database the server uses (same config file and environment), with or
without the server running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from glmserve.config import TIERS, ConfigError, load_settings
from glmserve.errors import GlmServeError
from glmserve.platform.keys import KeyService, load_master_key
from glmserve.platform.service import data_dir, open_store
from glmserve.platform.usage import nano_to_usd, usd_to_nano
from glmserve.store import KeyRow, Repository, StoreError

__all__ = ["add_commands", "run"]


def add_commands(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config file (env GLMSERVE_CONFIG)")
    keys = commands.add_parser("keys", help="create, list, revoke and top up API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", parents=[common], help="create a key; its secret is shown only now"
    )
    create.add_argument("--name", required=True)
    create.add_argument("--tier", choices=TIERS, default="V0")
    create.add_argument("--balance", help="prepaid balance in USD (default: unlimited)")
    create.add_argument("--apis", help="comma-separated APIs the key may call (default: all)")
    create.add_argument("--plan", help="put the key on this GLM Coding Plan (docs/plans.md)")
    create.add_argument("--plan-days", type=int, help="the plan ends after this many days")
    create.add_argument(
        "--safety-exempt",
        action="store_true",
        help="the key may turn content safety off (sensitive_word_check DISABLE)",
    )
    actions.add_parser("list", parents=[common], help="list keys (never their secrets)")
    plan = actions.add_parser(
        "plan", parents=[common], help="a key's Coding Plan and its windows, or set its plan"
    )
    plan.add_argument("key_id")
    plan.add_argument("--set", dest="set_plan", help="put the key on this plan ('none': off)")
    plan.add_argument("--days", type=int, help="with --set: the plan ends after this many days")
    revoke = actions.add_parser(
        "revoke", parents=[common], help="revoke a key: it stops working at once"
    )
    revoke.add_argument("key_id")
    top_up = actions.add_parser("top-up", parents=[common], help="add to a key's balance")
    top_up.add_argument("key_id")
    top_up.add_argument("--amount", required=True, help="USD")

    usage = commands.add_parser(
        "usage", parents=[common], help="usage and cost by key, model and day"
    )
    usage.add_argument("--key", help="only this key id")
    usage.add_argument("--model", help="only this model code")
    usage.add_argument("--since", help="from this day (YYYY-MM-DD, UTC)")
    usage.add_argument("--until", help="to this day (YYYY-MM-DD, UTC)")
    usage.add_argument("--user", help="only requests with this user_id")
    usage.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
        repository = open_store(settings.platform)
    except (ConfigError, StoreError) as exc:
        print(f"glmserve: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "usage":
            return _usage(repository, args)
        master = load_master_key(settings.platform.secret_key, data_dir(settings.platform))
        plans = settings.platform.plans.names
        return _keys(KeyService(repository, master, plans), args)
    except GlmServeError as exc:
        print(f"glmserve: {exc.message}", file=sys.stderr)
        return 1
    finally:
        repository.close()


def _amount(text: str) -> int:
    try:
        return usd_to_nano(text)
    except ArithmeticError:
        raise GlmServeError(f"{text!r} is not an amount in USD") from None


def _keys(keys: KeyService, args: argparse.Namespace) -> int:
    if args.action == "create":
        balance = None if args.balance is None else _amount(args.balance)
        issued = keys.create(args.name, args.tier, balance)
        if args.apis is not None:
            keys.set_apis(issued.row.id, [a.strip() for a in args.apis.split(",") if a.strip()])
            print(f"may call: {args.apis}")
        if args.plan is not None:
            days = args.plan_days
            until = None if days is None else int(time.time()) + days * 86400
            keys.set_plan(issued.row.id, args.plan, until)
            print(f"on plan {args.plan}" + ("" if until is None else f" for {days} days"))
        if args.safety_exempt:
            keys.set_safety_exempt(issued.row.id, True)
            print("the key may turn content safety off (sensitive_word_check DISABLE)")
        print(f"created key {issued.row.id} ({issued.row.name}, tier {issued.row.tier})")
        print(f"API key (shown only this once, store it now): {issued.api_key}")
    elif args.action == "list":
        print(f"{'id':<34} {'name':<20} {'tier':<4} {'balance':>16}  status")
        for row in keys.list():
            print(_key_line(row))
    elif args.action == "plan":
        return _plan(keys, args)
    elif args.action == "revoke":
        print(_key_line(keys.revoke(args.key_id)))
    elif args.action == "top-up":
        print(_key_line(keys.top_up(args.key_id, _amount(args.amount))))
    return 0


def _plan(keys: KeyService, args: argparse.Namespace) -> int:
    """Set a key's plan, or show it with its windows as the running server counts them
    (asked through the admin API: the windows live in the server, or in Redis)."""
    if args.set_plan is not None:
        name = None if args.set_plan == "none" else args.set_plan
        until = None if args.days is None else int(time.time()) + args.days * 86400
        print(_key_line(keys.set_plan(args.key_id, name, until)))
        return 0
    row = keys.get(args.key_id)
    if row is None:
        raise GlmServeError(f"API key {args.key_id!r} does not exist.")
    print(_key_line(row))
    if row.plan is None:
        return 0
    settings = load_settings(args.config)
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(
        settings.host, settings.host
    )
    admin = settings.platform.admin_key
    url = f"http://{host}:{settings.port}/admin/keys/{row.id}/plan"
    try:
        answer = httpx.get(url, headers={"Authorization": f"Bearer {admin or ''}"}, timeout=10)
    except httpx.HTTPError as exc:
        print(f"windows: the server at {url} cannot be reached ({exc})", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"windows: the server answered {answer.status_code}: {answer.text}", file=sys.stderr)
        return 1
    for name, window in answer.json()["windows"].items():
        flush = window["next_flush_time"]
        reset = (
            ""
            if flush is None
            else time.strftime(", next prompt leaves %Y-%m-%d %H:%M:%S UTC", time.gmtime(flush))
        )
        print(f"{name:<10} {window['used']} / {window['limit'] or 'no limit'}{reset}")
    return 0


def _key_line(row: KeyRow) -> str:
    balance = "unlimited" if row.balance_nano is None else nano_to_usd(row.balance_nano)
    status = "revoked" if row.revoked else row.status
    plan = f"  plan {row.plan}" if row.plan else ""
    if row.plan and row.plan_expires_at is not None:
        plan += time.strftime(" until %Y-%m-%d %H:%M UTC", time.gmtime(row.plan_expires_at))
    return f"{row.id:<34} {row.name[:20]:<20} {row.tier:<4} {balance:>16}  {status}{plan}"


def _usage(repository: Repository, args: argparse.Namespace) -> int:
    rows = repository.usage_summary(args.key, args.model, args.since, args.until, args.user)
    if args.json:
        print(json.dumps([{**vars(r), "cost": nano_to_usd(r.cost_nano)} for r in rows], indent=2))
        return 0
    print(
        f"{'day':<10} {'key':<32} {'model':<16} {'requests':>8} {'errors':>6} {'cancel':>6} "
        f"{'prompt':>9} {'cached':>9} {'output':>9} {'cost USD':>14}"
    )
    for r in rows:
        print(
            f"{r.day:<10} {r.key_id:<32} {r.model[:16]:<16} {r.requests:>8} {r.errors:>6} "
            f"{r.cancelled:>6} {r.prompt_tokens:>9} {r.cached_tokens:>9} "
            f"{r.completion_tokens:>9} {nano_to_usd(r.cost_nano):>14}"
        )
    return 0
