"""``glmserve pull REPO[:QUANT]``: a GGUF (and its vision projector) from a model hub
into the model cache, then the config lines that serve it (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from glmserve.config.client import ClientSettings
from glmserve.engine.llama.weights import default_cache_dir
from glmserve.terminal.hub import Hub, HubError, HubFile

__all__ = ["pull_command", "choose", "Choice", "quant_of"]

DEFAULT_QUANT = "Q4_K_M"
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?:^|[-_./])((?:UD-)?(?:I?Q\d(?:_[A-Z0-9]+)*|TQ\d_\d|BF16|F16|F32|MXFP4(?:_MOE)?))"
    r"(?=$|[-_./])",
    re.IGNORECASE,
)
_REPO = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class Choice:
    quant: str
    files: list[HubFile]
    """The GGUF, or every part of a split GGUF (first part first)."""
    mmproj: HubFile | None


def quant_of(path: str) -> str | None:
    """The quantization a GGUF's path names (``Q4_K_M``, ``UD-Q4_K_XL``, ``F16``...)."""
    stem = _SPLIT.sub("", path)
    stem = re.sub(r"\.gguf$", "", stem, flags=re.IGNORECASE)
    found = _QUANT.findall(stem)
    return found[-1].upper() if found else None


def choose(files: list[HubFile], quant: str | None, repo: str) -> Choice:
    ggufs = [f for f in files if f.path.lower().endswith(".gguf")]
    projectors = sorted(
        (f for f in ggufs if "mmproj" in Path(f.path).name.lower()), key=lambda f: f.path
    )
    groups: dict[str, list[HubFile]] = {}
    for file in ggufs:
        if file not in projectors:
            groups.setdefault(quant_of(file.path) or Path(file.path).name, []).append(file)
    if not groups:
        raise HubError(f"{repo} has no GGUF file")
    named = [f for f in ggufs if f.path == quant and f not in projectors]
    key = (quant_of(named[0].path) or named[0].path) if named else _pick(groups, quant, repo)
    chosen = named or sorted(groups[key], key=lambda f: f.path)
    if len(chosen) > 1 and not all(_SPLIT.search(f.path) for f in chosen):
        names = ", ".join(f.path for f in chosen)
        raise HubError(f"{repo} has several {key} files ({names}); name one: {repo}:FILE")
    return Choice(key, chosen, _projector(projectors, key))


def _pick(groups: dict[str, list[HubFile]], quant: str | None, repo: str) -> str:
    if quant is None:
        if len(groups) == 1:
            return next(iter(groups))
        if DEFAULT_QUANT in groups:
            return DEFAULT_QUANT
    else:
        for key in groups:
            if key.upper() == quant.upper():
                return key
    available = ", ".join(sorted(groups))
    asked = f"no {quant} GGUF" if quant else "several GGUFs"
    raise HubError(f"{repo}: {asked}; available: {available}. Pull one as {repo}:QUANT")


def _projector(projectors: list[HubFile], quant: str) -> HubFile | None:
    if not projectors:
        return None
    by_quant = {quant_of(p.path): p for p in projectors}
    for preferred in (quant, "F16", "BF16", "F32"):
        if preferred in by_quant:
            return by_quant[preferred]
    return projectors[0]


def pull_command(args: argparse.Namespace, settings: ClientSettings) -> int:
    repo, _, quant = args.ref.partition(":")
    if not _REPO.fullmatch(repo):
        print(f"glmserve: {repo!r} is not a repository name (OWNER/NAME)", file=sys.stderr)
        return 2
    endpoint = args.endpoint or settings.hf_endpoint
    hub = Hub(endpoint, args.token or settings.hf_token, args.revision)
    folder = (
        Path(args.dir).expanduser()
        if args.dir
        else (settings.cache_dir or default_cache_dir()) / "models" / repo
    )
    try:
        choice = choose(hub.files(repo), quant or None, repo)
        wanted = [*choice.files, *([choice.mmproj] if choice.mmproj else [])]
        paths = [_fetch(hub, repo, file, folder) for file in wanted]
    except HubError as exc:
        print(f"glmserve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nglmserve: interrupted; run the same command to resume", file=sys.stderr)
        return 130
    finally:
        hub.close()
    print(_config_lines(repo, paths[0], paths[len(choice.files)] if choice.mmproj else None))
    return 0


def _fetch(hub: Hub, repo: str, file: HubFile, folder: Path) -> Path:
    target = folder / file.path
    if Path(file.path).is_absolute() or ".." in Path(file.path).parts:
        raise HubError(f"the hub listed a file outside the repository: {file.path!r}")
    stamp = target.with_name(target.name + ".sha256")
    if (
        target.is_file()
        and file.sha256
        and stamp.is_file()
        and stamp.read_text().strip() == file.sha256
        and (file.size is None or target.stat().st_size == file.size)
    ):
        print(f"{file.path}: already downloaded ({target})", file=sys.stderr)
        return target
    bar = tqdm(
        total=file.size, unit="B", unit_scale=True, desc=Path(file.path).name, file=sys.stderr
    )

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    with bar:
        digest = hub.download(repo, file, target, progress)
    stamp.write_text(digest + "\n")
    print(f"{file.path}: SHA-256 {digest} verified", file=sys.stderr)
    return target


def _config_lines(repo: str, gguf: Path, mmproj: Path | None) -> str:
    code = re.sub(r"-gguf$", "", repo.split("/")[-1].lower())
    lines = [
        f"Pulled {repo}. To serve it, add to your config file (glmserve serve --config FILE):",
        "",
        "[[models]]",
        f'code = "{code}"  # the model name clients send; a catalog code gets Z.AI\'s defaults',
        f"gguf = {json.dumps(str(gguf))}",
    ]
    if mmproj is not None:
        lines.append(f"mmproj = {json.dumps(str(mmproj))}  # the vision projector (docs/api.md)")
    return "\n".join(lines)
