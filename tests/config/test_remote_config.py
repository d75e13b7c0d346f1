"""engine = "remote": the exact keys of the configuration, and a start-up error for
every bad value (a worker that is down is not one)."""

from pathlib import Path

import pytest

from glmserve.config import ConfigError, RemoteWorker, load_settings


@pytest.fixture
def hf_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "GLM-4.7"
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    return folder


def _load(tmp_path: Path, model: str) -> object:
    path = tmp_path / "glmserve.toml"
    path.write_text("[server]\ndefault_model = false\n\n[[models]]\n" + model)
    return load_settings(path, environ={})


WORKERS = (
    '[[models.workers]]\nurl = "http://10.0.0.11:8000"\nkind = "vllm"\n'
    '[[models.workers]]\nurl = "http://10.0.0.12:8000"\nkind = "vllm"\n'
)


def test_the_issue_example_loads(tmp_path: Path, hf_folder: Path) -> None:
    settings = _load(
        tmp_path,
        f'code = "glm-4.7"\nengine = "remote"\ntokenizer = "{hf_folder}"\n'
        f'routing = "prefix"\n{WORKERS}',
    )
    model = settings.model("glm-4.7")  # type: ignore[attr-defined]
    assert model.engine == "remote" and model.tokenizer == hf_folder
    assert model.routing == "prefix" and model.gguf is None
    assert model.workers == (
        RemoteWorker("http://10.0.0.11:8000", "vllm"),
        RemoteWorker("http://10.0.0.12:8000", "vllm"),
    )
    assert model.context_size == model.spec.context_window  # the catalog's window


def test_optional_worker_keys_and_defaults(tmp_path: Path, hf_folder: Path) -> None:
    settings = _load(
        tmp_path,
        f'code = "glm-4.7"\nengine = "remote"\ntokenizer = "{hf_folder}"\n'
        "context_size = 131072\n"
        '[[models.workers]]\nurl = "http://gpu-1:30000"\nkind = "sglang"\n'
        'model = "zai-org/GLM-4.7"\napi_key = "sk-worker"\nmax_in_flight = 32\n'
        '[[models.workers]]\nurl = "https://gpu-2:8080/"\nkind = "llama-server"\n',
    )
    model = settings.model("glm-4.7")  # type: ignore[attr-defined]
    assert model.routing == "prefix" and model.context_size == 131072
    first, second = model.workers
    assert (first.model, first.api_key, first.max_in_flight) == ("zai-org/GLM-4.7", "sk-worker", 32)
    assert second.kind == "llama-server" and second.max_in_flight == 64


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ('engine = "remote"\n' + WORKERS, "'tokenizer'"),
        ('engine = "remote"\ntokenizer = "{tok}"\n', "at least one [[models.workers]]"),
        ('engine = "remote"\ntokenizer = "/nowhere"\n' + WORKERS, "neither a Hugging Face"),
        ('engine = "remote"\ntokenizer = "{tok}"\nrouting = "random"\n' + WORKERS, "routing"),
        (
            'engine = "remote"\ntokenizer = "{tok}"\n[[models.workers]]\nurl = "http://h:1"\n'
            'kind = "tgi"\n',
            "workers.0.kind",
        ),
        (
            'engine = "remote"\ntokenizer = "{tok}"\n[[models.workers]]\nurl = "10.0.0.1:8000"\n'
            'kind = "vllm"\n',
            "http(s)://host",
        ),
        (
            'engine = "remote"\ntokenizer = "{tok}"\n[[models.workers]]\nurl = "http://h:1"\n'
            'kind = "vllm"\nmax_in_flight = 0\n',
            "max_in_flight",
        ),
        (
            'engine = "remote"\ntokenizer = "{tok}"\n[[models.workers]]\nurl = "http://h:1"\n'
            'kind = "vllm"\nport = 3\n',
            "unknown key",
        ),
        (
            'engine = "remote"\ntokenizer = "{tok}"\n'
            + WORKERS
            + '[[models.workers]]\nurl = "http://10.0.0.11:8000/"\nkind = "vllm"\n',
            "listed more than once",
        ),
        ('engine = "remote"\ntokenizer = "{tok}"\nthreads = 8\n' + WORKERS, "embedded engine"),
        ('engine = "remote"\ntokenizer = "{tok}"\ngguf = "x.gguf"\n' + WORKERS, "gguf"),
        ('gguf = "{tok}/tokenizer.json"\n' + WORKERS, 'need engine = "remote"'),
        ('engine = "vllm"\ntokenizer = "{tok}"\n' + WORKERS, "engine"),
    ],
)
def test_bad_values_are_start_up_errors(
    tmp_path: Path, hf_folder: Path, model: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, 'code = "glm-4.7"\n' + model.replace("{tok}", str(hf_folder)))
    assert message in str(caught.value)


def test_a_gguf_tokenizer_is_accepted(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    settings = _load(
        tmp_path, f'code = "glm-4.7"\nengine = "remote"\ntokenizer = "{gguf}"\n{WORKERS}'
    )
    assert settings.model("glm-4.7").tokenizer == gguf  # type: ignore[attr-defined]


def test_vision_on_remote_workers(tmp_path: Path, hf_folder: Path) -> None:
    vision = "[models.capabilities]\nvision = true\n"
    head = f'code = "tiny-v"\nengine = "remote"\ntokenizer = "{hf_folder}"\n'
    with pytest.raises(ConfigError, match=r"preprocessor_config\.json"):
        _load(tmp_path, head + vision + WORKERS)
    (hf_folder / "preprocessor_config.json").write_text("{}")
    model = _load(tmp_path, head + vision + WORKERS).model("tiny-v")  # type: ignore[attr-defined]
    assert model.spec.capabilities.vision
    blind = '[[models.workers]]\nurl = "http://h:1"\nkind = "llama-server"\n'
    with pytest.raises(ConfigError, match="llama-server workers take no images"):
        _load(tmp_path, head + vision + blind)
    # A catalog vision code on llama-server starts (and refuses media with 1214).
    catalog = f'code = "glm-4.6v"\nengine = "remote"\ntokenizer = "{hf_folder}"\n' + blind
    served = _load(tmp_path, catalog).model("glm-4.6v")  # type: ignore[attr-defined]
    assert served.spec.capabilities.vision
