"""Starting ``glmserve chat`` and ``glmserve run`` from their arguments."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from glmserve.config.client import ClientSettings
from glmserve.terminal.chat import ChatSession, ask
from glmserve.terminal.client import ApiError, ZaiClient
from glmserve.terminal.conversation import Conversation, load_tools
from glmserve.terminal.view import PlainView, RichView, View

__all__ = ["chat_command", "run_command"]


def _conversation(args: argparse.Namespace, model: str) -> Conversation:
    return Conversation(
        model=model,
        system=args.system,
        thinking=args.thinking == "on",
        tools=load_tools(args.tools) if args.tools else None,
    )


def chat_command(args: argparse.Namespace, settings: ClientSettings) -> int:
    client = ZaiClient(args.base_url or settings.base_url, args.api_key or settings.api_key)
    try:
        model = args.model or _first_model(client)
        conversation = _conversation(args, model)
        if sys.stdin.isatty():
            import readline  # noqa: F401  (line editing and history for input())
        return ChatSession(client, conversation, Console(highlight=False)).run()
    except (ApiError, ValueError) as exc:
        print(f"glmserve: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def run_command(args: argparse.Namespace, settings: ClientSettings) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        print("glmserve: no prompt (give it as an argument or on stdin)", file=sys.stderr)
        return 2
    client = ZaiClient(args.base_url or settings.base_url, args.api_key or settings.api_key)
    try:
        conversation = _conversation(args, args.model)
        conversation.messages.append({"role": "user", "content": prompt})
        view: View
        if sys.stdout.isatty():
            console = Console(highlight=False)
            view = RichView(console, keep_reasoning=args.reasoning, hint="--reasoning")
        else:
            view = PlainView(sys.stdout, sys.stderr if args.reasoning else None)
        turn = ask(client, conversation, view)
        return 130 if turn is None else 0
    except (ApiError, ValueError) as exc:
        print(f"glmserve: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _first_model(client: ZaiClient) -> str:
    try:
        models = client.models()
    except ApiError as exc:
        if exc.unreachable:
            raise ApiError(f"{exc} (is the server running? glmserve serve)") from None
        raise ApiError(f"{exc}; name a model with --model") from None
    if not models:
        raise ApiError(f"{client.base_url}/models lists no model; name one with --model")
    return models[0]
