"""Starting an engine process: the spawn, the pipe and the load handshake that the chat
engine's worker (engine/llama/worker.py) and the embedding engine's
(engine/llama/embedding_worker.py) share."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["spawn_engine_process"]


def spawn_engine_process(
    target: Callable[[Connection, Any], None], spec: Any, *, name: str, what: str
) -> tuple[Connection, Any, dict[str, Any]]:
    """Start ``target(conn, spec)`` in a fresh process and wait for its ``("ready",
    info)``; the connection, the process and the info. ``what`` names the process in
    the RuntimeError raised when it exits or fails while loading."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(theirs, spec), daemon=True, name=name)
    proc.start()
    theirs.close()
    try:
        kind, payload = ours.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"the {what} exited with {proc.exitcode} while loading") from None
    if kind != "ready":
        proc.join()
        raise RuntimeError(f"the {what} failed to load: {payload}")
    return ours, proc, payload
