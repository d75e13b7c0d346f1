"""Files in an S3-compatible object store: a real one (moto's S3 server, from PyPI's
``moto[server]``), reached with boto3 by the gateway and by the test."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.platform.batch_helpers import (
    batch_config,
    chat_lines,
    client,
    jsonl,
    read_jsonl,
    wait_for,
)
from tests.platform.gateway import Gateway
from tests.platform.services import unavailable

BUCKET = "glmserve-files"
CREDENTIALS = {"GLMSERVE_S3_ACCESS_KEY": "test-access", "GLMSERVE_S3_SECRET_KEY": "test-secret"}


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        unavailable("moto[server] (an S3-compatible server)")
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        _bucket(url).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def _bucket(url: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["GLMSERVE_S3_ACCESS_KEY"],
        aws_secret_access_key=CREDENTIALS["GLMSERVE_S3_SECRET_KEY"],
    )


def test_files_and_batch_results_live_in_the_bucket(
    s3: str, tmp_path: Path, gemma_gguf: Path
) -> None:
    files = f'backend = "s3"\ns3_endpoint = "{s3}"\ns3_bucket = "{BUCKET}"\ns3_prefix = "f/"'
    config = batch_config(tmp_path / "glmserve.toml", gemma_gguf, tmp_path / "data", files=files)
    gateway = Gateway(config, tmp_path / "server.log", env=CREDENTIALS)
    bucket = _bucket(s3)
    try:
        zc = client(gateway.zai_base, gateway.create_key("V0"))
        data = jsonl(chat_lines(1, 2)).getvalue()
        uploaded = zc.files.create(file=("in.jsonl", data), purpose="batch")
        stored = bucket.get_object(Bucket=BUCKET, Key=f"f/{uploaded.id}")["Body"].read()
        assert stored == data
        assert zc.files.content(uploaded.id).content == data
        # A download is streamed from the bucket a piece at a time: one of several
        # pieces, with a name that is not ASCII.
        large = (b'{"custom_id": "x"}\n' * 60_000)[: 1024 * 1024 + 7]
        named = zc.files.create(file=("大批.jsonl", large), purpose="batch")
        assert zc.files.content(named.id).content == large

        batch = wait_for(
            zc,
            zc.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v4/chat/completions",
                auto_delete_input_file=False,
            ).id,
        )
        assert batch.status == "completed"
        output = bucket.get_object(Bucket=BUCKET, Key=f"f/{batch.output_file_id}")["Body"].read()
        assert read_jsonl(output)[0]["custom_id"] == "req-0"
        assert zc.files.content(batch.output_file_id).content == output

        assert zc.files.delete(uploaded.id).deleted
        keys = [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert f"f/{uploaded.id}" not in keys and f"f/{batch.output_file_id}" in keys
    finally:
        gateway.stop()


def test_a_missing_bucket_stops_the_start_with_a_clear_message(
    s3: str, tmp_path: Path, gemma_gguf: Path
) -> None:
    files = f'backend = "s3"\ns3_endpoint = "{s3}"\ns3_bucket = "no-such-bucket"'
    config = batch_config(tmp_path / "glmserve.toml", gemma_gguf, tmp_path / "data", files=files)
    with pytest.raises(RuntimeError, match="no-such-bucket"):
        Gateway(config, tmp_path / "server.log", env=CREDENTIALS)
