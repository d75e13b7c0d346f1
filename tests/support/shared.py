"""The reference material beside the repository: ``../shared`` relative to the repository
root (the official GLM chat templates and parser test vectors), wherever the clone sits."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPOSITORY", "SHARED", "glm_template", "shared_path"]

REPOSITORY = Path(__file__).resolve().parents[2]
SHARED = REPOSITORY.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file or folder under ``../shared``; a clear error when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the tests read the reference folder 'shared' placed beside "
            f"the repository ({SHARED})"
        )
    return path


def glm_template(name: str) -> Path:
    """An official GLM chat template, e.g. ``glm_template("glm-4.7")``."""
    return shared_path("glm", "templates", f"{name}.jinja")
