"""The ``[agents]`` section: the agents' model and the PDF printer, checked at start-up."""

from pathlib import Path

import pytest

from glmserve.config import ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return path


def test_defaults_leave_the_choice_to_the_served_models() -> None:
    agents = load_settings(environ={}).agents
    assert agents.model is None and agents.chromium is None


def test_a_served_model_and_a_chromium(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    path = _write(tmp_path, f'[agents]\nmodel = "gemma-3-270m"\nchromium = "{chromium}"\n')
    agents = load_settings(path, environ={}).agents
    assert agents.model == "gemma-3-270m" and agents.chromium == chromium


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('model = "glm-9"', "agents.model = 'glm-9' is not a served model"),
        ('chromium = "/no/such/chromium"', "agents.chromium = '/no/such/chromium' is not a file"),
        ("temperature = 1", "temperature"),
    ],
)
def test_bad_values_are_start_up_errors(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_settings(_write(tmp_path, f"[agents]\n{section}\n"), environ={})
