"""The layers import one way (docs/architecture.md): nothing below the serving layer
reaches up into it, the platform never touches prompts or engines, and no module
imports itself back through a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import glmserve

ROOT = Path(glmserve.__file__).parent

# layer -> the layers it must never import
FORBIDDEN = {
    "chat": {"serving", "platform", "api", "console"},
    "engine": {"serving", "platform", "api", "console"},
    "safety": {"serving", "platform", "api", "console", "chat", "engine", "store"},
    "protocol": {"serving", "platform", "api", "console"},
    "store": {"serving", "platform", "api", "console"},
    "config": {"serving", "platform", "api", "console", "chat", "engine", "protocol", "store"},
    "platform": {"chat", "engine", "serving", "api", "console", "protocol"},
    "serving": {"api", "console"},
    # the console is HTTP like api/: it reads what the app holds, never a lower layer's parts
    "search": {"serving", "platform", "api", "console"},
    "console": {"chat", "engine", "store"},
}

ENGINE_BACKENDS = ("glmserve.engine.llama", "glmserve.engine.remote")
"""Only the engine registry (engine/registry.py) builds backends; above it, the
``Engine`` interface and its types."""

ROOMS_BELOW_THE_SERVICE = ("prepare", "run", "media", "models")
"""The rooms of serving/ that its service is built from: they never reach back up to
the service, the job table or a family room."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every glmserve module the file imports, at any depth (function bodies and
    TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("glmserve")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("glmserve"):
            assert node.module is not None
            found.add(node.module)
            # ``from glmserve.chat import grammar`` imports a module too
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in ROOT.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in files} for name, path in files.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "glmserve.serving.service" in graph
    assert "glmserve.platform.admission" in graph["glmserve.serving.service"]


def test_no_layer_imports_what_it_must_not() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) in FORBIDDEN.get(_layer(module), set())
    ]
    assert wrong == []


def test_no_import_circles() -> None:
    graph = _graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if target == module or _is_parent(target, module):
                continue  # a package's __init__ importing its own submodule
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def _is_parent(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def _below(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_serving_imports_no_engine_backend() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _below(module, "glmserve.serving")
        for target in targets
        if any(_below(target, backend) for backend in ENGINE_BACKENDS)
    ]
    assert wrong == []


def test_no_room_below_the_service_imports_it() -> None:
    above = ("glmserve.serving.service", "glmserve.serving.jobs", "glmserve.serving.embeddings")
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if any(_below(module, f"glmserve.serving.{room}") for room in ROOMS_BELOW_THE_SERVICE)
        for target in targets
        if any(_below(target, up) for up in above)
    ]
    assert wrong == []


def test_the_job_table_knows_no_family() -> None:
    graph = _graph()
    table = graph["glmserve.serving.jobs.table"]
    families = ("glmserve.serving.service", "glmserve.serving.embeddings", "glmserve.serving.jobs.")
    assert [t for t in table if any(_below(t, f) or t.startswith(f) for f in families)] == []


def test_only_the_app_and_api_import_the_console() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if not (_below(module, "glmserve.api") or _below(module, "glmserve.console"))
        for target in targets
        if _below(target, "glmserve.console")
    ]
    assert wrong == []
