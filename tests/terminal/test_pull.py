"""``glmserve pull`` as a user runs it, against a local hub speaking the Hugging Face
file-resolve protocol (tests/support/hub.py)."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.config.load import load_settings
from tests.support.hub import LocalHub

REPO = "acme/GLM-4.7-Flash-GGUF"
Q4 = "GLM-4.7-Flash-Q4_K_M.gguf"
SIZE = 3 * 1024 * 1024 + 17


def _blob(seed: int, size: int = SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


FILES = {
    "README.md": b"# GLM-4.7-Flash GGUF\n",
    Q4: _blob(1),
    "GLM-4.7-Flash-Q8_0.gguf": _blob(2),
    "mmproj-F16.gguf": _blob(3, 200_000),
    "mmproj-BF16.gguf": _blob(4, 200_000),
}


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    server = LocalHub({REPO: dict(FILES)})
    yield server
    server.close()


def _pull(
    hub: LocalHub, cache: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "GLMSERVE_CACHE_DIR": str(cache),
        **(env or {}),
    }
    environ.pop("HF_TOKEN", None) if "HF_TOKEN" not in (env or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "glmserve", "pull", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )


def _folder(cache: Path) -> Path:
    return cache / "models" / REPO


def _cdn_gets(hub: LocalHub, name: str) -> list[str | None]:
    return [
        s.range
        for s in hub.requests
        if s.method == "GET" and s.path.endswith(f"/cdn/{REPO}/{name}")
    ]


def test_pull_downloads_the_quant_and_its_projector_and_prints_config(
    hub: LocalHub, tmp_path: Path
) -> None:
    result = _pull(hub, tmp_path, f"{REPO}:q4_k_m")
    assert result.returncode == 0, result.stderr
    folder = _folder(tmp_path)
    assert (folder / Q4).read_bytes() == FILES[Q4]
    assert (folder / "mmproj-F16.gguf").read_bytes() == FILES["mmproj-F16.gguf"]
    assert not (folder / "GLM-4.7-Flash-Q8_0.gguf").exists()
    assert not (folder / "mmproj-BF16.gguf").exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [Q4, f"{Q4}.sha256", "mmproj-F16.gguf", "mmproj-F16.gguf.sha256"]
    )
    # progress on stderr (tqdm), and the checksum checked
    assert Q4 in result.stderr and "100%" in result.stderr
    assert f"SHA-256 {hashlib.sha256(FILES[Q4]).hexdigest()} verified" in result.stderr
    # the tree listing was paged (Link: rel="next") and followed
    assert sum("/tree/" in s.path for s in hub.requests) == 3
    # the config lines serve it as printed
    lines = result.stdout.splitlines()
    block = "\n".join(lines[lines.index("[[models]]") :])
    config = tmp_path / "glmserve.toml"
    config.write_text("[server]\ndefault_model = false\n\n" + block + "\n")
    model = load_settings(config, environ={}).models[0]
    assert model.code == "glm-4.7-flash" and model.gguf == folder / Q4
    assert model.mmproj == folder / "mmproj-F16.gguf"  # the projector is served with it

    again = _pull(hub, tmp_path, f"{REPO}:Q4_K_M")
    assert again.returncode == 0 and "already downloaded" in again.stderr
    assert len(_cdn_gets(hub, Q4)) == 1  # nothing downloaded twice


def test_a_connection_cut_mid_file_is_resumed_with_a_range_request(
    hub: LocalHub, tmp_path: Path
) -> None:
    hub.cut_once.add(f"{REPO}/{Q4}")
    result = _pull(hub, tmp_path, f"{REPO}:Q4_K_M")
    assert result.returncode == 0, result.stderr
    assert (_folder(tmp_path) / Q4).read_bytes() == FILES[Q4]
    first, second = _cdn_gets(hub, Q4)
    assert first is None and second is not None
    resumed_at = int(second.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= SIZE // 2  # the second asked only for what was missing


def test_a_partial_file_from_an_earlier_run_is_resumed(hub: LocalHub, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / f"{Q4}.partial").write_bytes(FILES[Q4][:1_000_000])
    result = _pull(hub, tmp_path, f"{REPO}:Q4_K_M")
    assert result.returncode == 0, result.stderr
    assert (folder / Q4).read_bytes() == FILES[Q4]
    assert _cdn_gets(hub, Q4) == ["bytes=1000000-"]
    assert not (folder / f"{Q4}.partial").exists()


def test_a_checksum_mismatch_is_refused_and_the_download_removed(
    hub: LocalHub, tmp_path: Path
) -> None:
    hub.wrong_sha.add(f"{REPO}/{Q4}")
    result = _pull(hub, tmp_path, f"{REPO}:Q4_K_M")
    assert result.returncode == 1
    assert "does not match the hub's" in result.stderr and "Traceback" not in result.stderr
    folder = _folder(tmp_path)
    assert not (folder / Q4).exists() and not (folder / f"{Q4}.partial").exists()
    assert "[[models]]" not in result.stdout


def test_the_token_is_sent_to_the_hub_and_not_to_the_cdn(tmp_path: Path) -> None:
    hub = LocalHub({REPO: dict(FILES)}, token="hf_secret")
    try:
        refused = _pull(hub, tmp_path, f"{REPO}:Q8_0")
        assert refused.returncode == 1
        assert "private or gated" in refused.stderr and "HF_TOKEN" in refused.stderr
        hub.requests.clear()
        ok = _pull(hub, tmp_path, f"{REPO}:Q8_0", "--token", "hf_secret")
        assert ok.returncode == 0, ok.stderr
        hub_side = [s for s in hub.requests if not s.path.startswith("/cdn/")]
        cdn_side = [s for s in hub.requests if s.path.startswith("/cdn/")]
        assert hub_side and all(s.authorization == "Bearer hf_secret" for s in hub_side)
        assert cdn_side and all(s.authorization is None for s in cdn_side)
        (_folder(tmp_path) / "GLM-4.7-Flash-Q8_0.gguf").unlink()
        by_env = _pull(hub, tmp_path, f"{REPO}:Q8_0", env={"HF_TOKEN": "hf_secret"})
        assert by_env.returncode == 0, by_env.stderr
    finally:
        hub.close()


def test_an_unknown_quant_lists_the_available_ones(hub: LocalHub, tmp_path: Path) -> None:
    result = _pull(hub, tmp_path, f"{REPO}:Q5_K_S")
    assert result.returncode == 1
    assert f"{REPO}: no Q5_K_S GGUF; available: Q4_K_M, Q8_0" in result.stderr
    missing = _pull(hub, tmp_path, "acme/nothing-here")
    assert missing.returncode == 1 and "not found on the hub" in missing.stderr


def test_a_hub_without_the_tree_api_and_lfs_listing_is_checked_by_its_etag(
    tmp_path: Path,
) -> None:
    files = {"model-F16.gguf": _blob(5, 50_000)}
    hub = LocalHub({REPO: files}, tree_api=False, lfs_in_listing=False)
    try:
        result = _pull(hub, tmp_path, REPO)  # one GGUF: no quant needed
        assert result.returncode == 0, result.stderr
        assert (_folder(tmp_path) / "model-F16.gguf").read_bytes() == files["model-F16.gguf"]
        assert any("/revision/main" in s.path for s in hub.requests)
        sha = hashlib.sha256(files["model-F16.gguf"]).hexdigest()
        assert f"SHA-256 {sha} verified" in result.stderr  # from X-Linked-Etag
        hub.wrong_sha.add(f"{REPO}/model-F16.gguf")
        refused = _pull(hub, tmp_path / "other", REPO)
        assert refused.returncode == 1 and "does not match the hub's" in refused.stderr
    finally:
        hub.close()


def test_a_listed_path_outside_the_repository_is_refused(tmp_path: Path) -> None:
    hub = LocalHub({REPO: {"../../escape-Q4_K_M.gguf": _blob(6, 1000)}})
    try:
        result = _pull(hub, tmp_path / "cache", REPO)
        assert result.returncode == 1 and "outside the repository" in result.stderr
        assert not list(tmp_path.rglob("escape*"))
    finally:
        hub.close()
