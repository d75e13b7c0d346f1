"""The ``[images]`` section: diffusers folders and remote OpenAI-images workers, with a
clear start-up error for every mistake."""

import json
from pathlib import Path

import pytest

from glmserve.config import ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return path


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "CogView4-6B"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "CogView4Pipeline"}))
    return folder


def test_no_image_models_by_default() -> None:
    images = load_settings(environ={}).images
    assert images.models == () and images.signed_urls
    assert images.url_ttl_seconds == 30 * 24 * 3600


def test_a_folder_and_a_remote_model(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    path = _write(
        tmp_path,
        "[images]\nurl_ttl_hours = 2\nsigned_urls = false\n\n"
        '[[images.models]]\ncode = "cogview-4"\npath = "CogView4-6B"\ndevice = "cuda:1"\n'
        'dtype = "bfloat16"\nsteps = 40\nfast_steps = 20\naliases = ["cogview-4-250304"]\n\n'
        '[[images.models]]\ncode = "glm-image"\nengine = "remote"\nprice = 0.02\n'
        '[[images.models.workers]]\nurl = "http://10.0.0.21:8091/"\nkind = "openai-images"\n',
    )
    images = load_settings(path, environ={}).images
    local, remote = images.models
    assert local.path == folder and local.device == "cuda:1" and local.dtype == "bfloat16"
    assert (local.steps, local.fast_steps) == (40, 20)
    assert local.codes == ("cogview-4", "cogview-4-250304")
    assert remote.engine == "remote" and remote.price == 0.02 and remote.output == "image"
    assert remote.workers[0].url == "http://10.0.0.21:8091"
    assert images.url_ttl_seconds == 7200 and not images.signed_urls


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('code = "x"\n', "needs path"),
        ('code = "x"\npath = "nowhere"\n', "not a diffusers folder"),
        ('code = "x"\nengine = "remote"\n', "needs \\[\\[images.models.workers\\]\\]"),
        ('code = "x"\npath = "CogView4-6B"\nsize = 3\n', "size"),
        ('code = "x"\npath = "CogView4-6B"\ndevice = "tpu"\n', "device"),
        ('code = "x"\npath = "CogView4-6B"\nsteps = 0\n', "steps"),
    ],
)
def test_mistakes_are_refused(tmp_path: Path, entry: str, message: str) -> None:
    _folder(tmp_path)
    path = _write(tmp_path, f"[[images.models]]\n{entry}")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_codes_must_not_repeat(tmp_path: Path) -> None:
    _folder(tmp_path)
    entry = '[[images.models]]\ncode = "cogview-4"\npath = "CogView4-6B"\n'
    with pytest.raises(ConfigError, match="repeat"):
        load_settings(_write(tmp_path, entry + entry), environ={})
