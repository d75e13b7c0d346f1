"""Vision settings: mmproj, the [media] section and the vision codes of the catalog."""

from pathlib import Path

import pytest

from glmserve.catalog import builtin_spec
from glmserve.config import ConfigError, load_settings
from glmserve.config.media import MediaSettings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "p.gguf").write_bytes(b"GGUF")
    return tmp_path / "m.gguf", tmp_path / "p.gguf"


def test_mmproj_makes_a_model_see_and_is_relative_to_the_file(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    text = '[[models]]\ncode = "my-vlm"\ngguf = "m.gguf"\nmmproj = "p.gguf"\n'
    model = load_settings(_write(tmp_path, text), environ={}).model("my-vlm")
    assert model is not None and model.mmproj == files[1]
    assert model.spec.capabilities.vision


def test_vision_can_be_switched_off_beside_a_projector(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    text = (
        '[[models]]\ncode = "glm-4.6v"\ngguf = "m.gguf"\nmmproj = "p.gguf"\n'
        "[models.capabilities]\nvision = false\n"
    )
    model = load_settings(_write(tmp_path, text), environ={}).model("glm-4.6v")
    assert model is not None and not model.spec.capabilities.vision


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('mmproj = "missing.gguf"', "mmproj file"),
        ("[models.capabilities]\nvision = true", "needs 'mmproj'"),
    ],
)
def test_bad_vision_settings(
    tmp_path: Path, files: tuple[Path, Path], entry: str, message: str
) -> None:
    text = f'[[models]]\ncode = "my-vlm"\ngguf = "m.gguf"\n{entry}\n'
    with pytest.raises(ConfigError, match=message):
        load_settings(_write(tmp_path, text), environ={})


def test_mmproj_is_a_key_of_the_embedded_engine(tmp_path: Path, files: tuple[Path, Path]) -> None:
    text = (
        '[[models]]\ncode = "glm-4.6v"\nengine = "remote"\ntokenizer = "m.gguf"\n'
        'mmproj = "p.gguf"\n[[models.workers]]\nurl = "http://10.0.0.1:8000"\nkind = "vllm"\n'
    )
    with pytest.raises(ConfigError, match="mmproj"):
        load_settings(_write(tmp_path, text), environ={})


def test_media_section(tmp_path: Path) -> None:
    text = "[media]\nallow_private_urls = true\nmax_images = 3\nvideo_fps = 2.0\n"
    media = load_settings(_write(tmp_path, text), environ={}).media
    assert media == MediaSettings(allow_private_urls=True, max_images=3, video_fps=2.0)
    assert load_settings(environ={}).media == MediaSettings()
    with pytest.raises(ConfigError):
        load_settings(_write(tmp_path, "[media]\nmax_images = 0\n"), environ={})


def test_vision_codes_carry_zai_values() -> None:
    spec = builtin_spec("glm-4.6v")
    assert spec is not None and spec.capabilities.vision
    assert (spec.default_max_tokens, spec.max_max_tokens) == (16384, 32768)
    assert (spec.temperature, spec.top_p) == (0.8, 0.6)
    assert spec.price is not None and (spec.price.input, spec.price.output) == (0.3, 0.9)
    five = builtin_spec("glm-5v-turbo")
    assert five is not None and five.context_window == 200 * 1024
    assert not builtin_spec("glm-4.7").capabilities.vision  # type: ignore[union-attr]
