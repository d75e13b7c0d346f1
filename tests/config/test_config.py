"""Settings: catalog defaults for GLM codes, and a clear start-up error for every mistake."""

from pathlib import Path

import pytest

from glmserve.catalog import DEFAULT_MODEL_CODE
from glmserve.config import ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return path


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_defaults_serve_the_embedded_model() -> None:
    settings = load_settings(environ={})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert [m.code for m in settings.models] == [DEFAULT_MODEL_CODE]
    assert settings.models[0].gguf is None
    assert not settings.models[0].batch_invariant  # llama.cpp's fastest kernels


def test_glm_code_inherits_zai_defaults(tmp_path: Path, gguf: Path) -> None:
    path = _write(tmp_path, f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\n')
    model = load_settings(path, environ={}).model("glm-4.7")
    assert model is not None
    spec = model.spec
    assert (spec.default_max_tokens, spec.max_max_tokens) == (65536, 131072)
    assert (spec.temperature, spec.top_p) == (1.0, 0.95)
    assert spec.capabilities.thinking and spec.capabilities.thinking_default
    assert spec.price is not None and spec.price.input == 0.6
    assert model.context_size == 32768 and not model.context_explicit


def test_glm45_defaults_differ(tmp_path: Path, gguf: Path) -> None:
    path = _write(
        tmp_path, f'[[models]]\ncode = "glm-4.5-air"\ngguf = "{gguf}"\ncontext_size = 4096\n'
    )
    model = load_settings(path, environ={}).model("glm-4.5-air")
    assert model is not None
    assert model.spec.temperature == 0.6 and model.spec.max_max_tokens == 98304
    assert model.context_size == 4096 and model.context_explicit
    assert not model.batch_invariant


def test_batch_invariance_is_an_opt_in(tmp_path: Path, gguf: Path) -> None:
    path = _write(
        tmp_path, f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\nbatch_invariant = true\n'
    )
    model = load_settings(path, environ={}).model("glm-4.7")
    assert model is not None and model.batch_invariant


def test_overrides(tmp_path: Path, gguf: Path) -> None:
    text = (
        f'[[models]]\ncode = "my-model"\ngguf = "{gguf}"\nmax_tokens = 2048\n'
        "default_max_tokens = 256\ntemperature = 0.3\n[models.capabilities]\ntools = true\n"
    )
    model = load_settings(_write(tmp_path, text), environ={}).model("my-model")
    assert model is not None
    assert (model.spec.max_max_tokens, model.spec.default_max_tokens) == (2048, 256)
    assert model.spec.temperature == 0.3 and model.spec.capabilities.tools


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nport = 9000\nhost = '0.0.0.0'\n")
    assert load_settings(path, environ={}).port == 9000
    assert load_settings(path, environ={"GLMSERVE_PORT": "9100"}).port == 9100
    assert load_settings(path, port=9200, environ={"GLMSERVE_PORT": "9100"}).port == 9200
    assert load_settings(environ={"GLMSERVE_CONFIG": str(path)}).host == "0.0.0.0"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\nport = '80'\n", "server.port"),
        ('[[models]]\ncode = "x"\n', "'gguf' (path to the model's GGUF file) is required"),
        ('[[models]]\ncode = "x"\ngguf = "/nonexistent.gguf"\n', "does not exist"),
        ('[[models]]\ncode = "x"\ngguf = "GGUF"\ncontext_size = 10\n', "models.0.context_size"),
        ('[[models]]\ncode = "x"\ngguf = "GGUF"\ntemperature = 3\n', "models.0.temperature"),
        ('[[models]]\ncode = "x"\ngguf = "GGUF"\nflavour = "y"\n', "models.0.flavour: unknown key"),
        ('[[models]]\ncode = "bad code"\ngguf = "GGUF"\n', "models.0.code"),
        (
            '[[models]]\ncode = "x"\ngguf = "GGUF"\ndefault_max_tokens = 10\nmax_tokens = 5\n',
            "is above max_tokens",
        ),
        (
            '[[models]]\ncode = "x"\ngguf = "GGUF"\n[[models]]\ncode = "x"\ngguf = "GGUF"\n',
            "more than once",
        ),
        ("[server]\ndefault_model = false\n", "no models to serve"),
        ("this is = not toml =", "not valid TOML"),
        ('[[models]]\ncode = "x"\ngguf = "GGUF"\nbatch_invariant = "no"\n', "batch_invariant"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, gguf: Path, text: str, says: str) -> None:
    path = _write(tmp_path, text.replace('"GGUF"', f'"{gguf}"'))
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert says in str(info.value)


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/glmserve.toml", environ={})


def test_bad_port_in_environment() -> None:
    with pytest.raises(ConfigError, match="whole number"):
        load_settings(environ={"GLMSERVE_PORT": "eighty"})


def test_claude_names_map_like_zai_when_those_models_are_served(tmp_path: Path, gguf: Path) -> None:
    path = _write(
        tmp_path,
        f'[[models]]\ncode = "glm-4.5-air"\ngguf = "{gguf}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\n',
    )
    claude = load_settings(path, environ={}).claude_models
    assert claude.resolve("claude-opus-4-1-20250805") == "glm-4.7"
    assert claude.resolve("claude-sonnet-4-5") == "glm-4.7"
    assert claude.resolve("claude-3-5-haiku-latest") == "glm-4.5-air"
    assert claude.resolve("claude-next") == "glm-4.7"
    assert claude.resolve("glm-4.5-air") == "glm-4.5-air"  # served codes pass through
    assert claude.resolve("gpt-4o") == "gpt-4o"  # and fail later as unknown models


def test_claude_names_fall_back_to_the_first_served_model() -> None:
    claude = load_settings(environ={}).claude_models
    assert {claude.opus, claude.sonnet, claude.haiku, claude.other} == {DEFAULT_MODEL_CODE}


def test_anthropic_table_sets_the_mapping(tmp_path: Path, gguf: Path) -> None:
    path = _write(
        tmp_path,
        f'[anthropic]\nhaiku = "{DEFAULT_MODEL_CODE}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\n',
    )
    claude = load_settings(path, environ={}).claude_models
    assert claude.resolve("claude-haiku-4-5") == DEFAULT_MODEL_CODE
    assert claude.resolve("claude-opus-4") == "glm-4.7"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[anthropic]\nopus = "glm-5"\n', "anthropic.opus = 'glm-5' is not a served model"),
        ('[anthropic]\nfast = "glm-4.7"\n', "anthropic.fast"),
        ("[anthropic]\nsonnet = 3\n", "anthropic.sonnet"),
    ],
)
def test_anthropic_table_mistakes(tmp_path: Path, table: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_settings(_write(tmp_path, table), environ={})


def test_dashscope_top_k_default_for_glm_4_7_and_not_glm_4_5() -> None:
    from glmserve.catalog import builtin_spec

    assert builtin_spec("glm-4.7").top_k == 20  # type: ignore[union-attr]
    assert builtin_spec("glm-4.6").top_k == 20  # type: ignore[union-attr]
    assert builtin_spec("glm-4.5-air").top_k == 0  # type: ignore[union-attr]
