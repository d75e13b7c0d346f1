"""The ``glmserve`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from glmserve import __version__, cli_platform, terminal
from glmserve.config import ConfigError, Settings, load_settings
from glmserve.engine.llama.weights import WeightsError
from glmserve.store import StoreError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glmserve", description="Serve the Z.AI GLM API.")
    parser.add_argument("--version", action="version", version=f"glmserve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the HTTP server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; env GLMSERVE_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8080; env GLMSERVE_PORT)")
    serve.add_argument("--config", help="TOML config file (env GLMSERVE_CONFIG)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    cli_platform.add_commands(commands)
    terminal.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command in terminal.COMMANDS:
        return terminal.run(args)
    if args.command != "serve":
        return cli_platform.run(args)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config, host=args.host, port=args.port)
    except ConfigError as exc:
        print(f"glmserve: configuration error: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from glmserve.api.connections import guarded_http
    from glmserve.api.server import create_app
    from glmserve.app import GlmServe

    try:
        app = GlmServe.load(settings)
    except (ConfigError, WeightsError, StoreError) as exc:
        print(f"glmserve: cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        _announce(settings, app)
        _first_key(settings, app)
        uvicorn.run(
            create_app(app),
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
            timeout_graceful_shutdown=30,
            # Slow clients: header deadline and per-address cap (api/connections.py),
            # idle keep-alive connections closed, body deadline in api/body.py.
            http=guarded_http(settings.http),
            timeout_keep_alive=settings.http.keepalive_timeout_seconds,
        )
    finally:
        app.close()
    return 0


def _announce(settings: Settings, app: object) -> None:
    from glmserve.app import GlmServe

    assert isinstance(app, GlmServe)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{settings.port}"
    lines = [
        f"glmserve {__version__} on {base}",
        f"  web console:   {base}/console/  (open it in a browser)",
        "  terminal chat: glmserve chat",
        f"  Z.AI base URL: {base}/api/paas/v4/",
        "  models:",
    ]
    for model in app.models:
        lines.append(
            f"    {model.code:<16} context {model.context_size:<7} "
            f"template {model.template_origin:<22} {model.gguf}"
        )
        lines.extend(_workers(model.engine))
    for served in app.embeddings:
        info = served.engine.info
        codes = ", ".join(served.config.codes)
        lines.append(
            f"    {codes:<16} {info.pooling} pooling, {info.dimensions} dimensions "
            f"({'reranker' if served.is_reranker else 'embeddings'}) {served.engine.spec.gguf}"
        )
    print("\n".join(lines), flush=True)


def _workers(engine: object) -> list[str]:
    """A remote model's workers and their health, probed now."""
    from glmserve.engine.remote import RemoteEngine

    if not isinstance(engine, RemoteEngine):
        return []
    lines = []
    for worker in engine.check_health():
        line = f"      worker {worker.url} ({worker.kind}): {worker.health}"
        if worker.health == "down" and worker.last_error:
            line += f" ({worker.last_error}; probed until it answers)"
        lines.append(line)
    return lines


def _first_key(settings: Settings, app: object) -> None:
    """With keys required and none yet, make one so the two-command start still works."""
    from glmserve.app import GlmServe

    assert isinstance(app, GlmServe)
    if settings.platform.open_access:
        print("  access: open (no API key needed)", flush=True)
        return
    if app.platform.keys.count():
        return
    issued = app.platform.keys.create("default", settings.platform.default_key_tier)
    print(
        f"  created the first API key (tier {issued.row.tier}); it is shown only this once:\n"
        f"    {issued.api_key}\n"
        "  (the web console takes it too)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
