"""``glmserve chat``, ``glmserve run`` and ``glmserve pull``: argument parsing and
start-up. Registered by glmserve.cli; the behaviour is in the sibling modules."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from glmserve.config.load import client_settings
from glmserve.config.settings import ConfigError

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = ("chat", "run", "pull")


def add_commands(commands: Any) -> None:
    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("--base-url", help="Z.AI base URL (default: the local glmserve)")
    client.add_argument("--api-key", help="API key (env GLMSERVE_API_KEY or ZAI_API_KEY)")
    client.add_argument("--config", help="TOML config file: where the local server listens")
    client.add_argument("--system", help="system prompt")
    client.add_argument(
        "--thinking", choices=["on", "off"], default="on", help="thinking mode (default on)"
    )
    client.add_argument("--tools", help="JSON file of tools the model may call")

    chat = commands.add_parser(
        "chat", parents=[client], help="chat with a model in the terminal (docs/cli.md)"
    )
    chat.add_argument("--model", "-m", help="model code (default: the server's first model)")

    one = commands.add_parser(
        "run", parents=[client], help="ask one question; plain text when piped (docs/cli.md)"
    )
    one.add_argument("model", help="model code")
    one.add_argument("prompt", nargs="?", help="the question (default: read from stdin)")
    one.add_argument(
        "--reasoning", action="store_true", help="also print the reasoning (to stderr when piped)"
    )

    pull = commands.add_parser(
        "pull", help="download a GGUF from a Hugging Face-compatible hub (docs/cli.md)"
    )
    pull.add_argument("ref", metavar="REPO[:QUANT]", help="e.g. unsloth/GLM-4.7-Flash-GGUF:Q4_K_M")
    pull.add_argument("--token", help="hub token (env HF_TOKEN)")
    pull.add_argument("--endpoint", help="hub URL (env HF_ENDPOINT; default huggingface.co)")
    pull.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    pull.add_argument("--dir", help="download folder (default: the model cache)")
    pull.add_argument("--config", help="TOML config file (its [server] cache_dir)")


def run(args: argparse.Namespace) -> int:
    try:
        settings = client_settings(args.config)
    except ConfigError as exc:
        print(f"glmserve: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "pull":
        from glmserve.terminal.pull import pull_command

        return pull_command(args, settings)
    from glmserve.terminal.session import chat_command, run_command

    if args.command == "chat":
        return chat_command(args, settings)
    return run_command(args, settings)
