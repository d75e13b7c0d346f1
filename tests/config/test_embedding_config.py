"""The ``[embeddings]`` section: the default embedding model, users' own GGUFs, and a
clear start-up error for every mistake."""

from pathlib import Path

import pytest

from glmserve.config import ConfigError, load_settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return path


def test_default_serves_minilm_as_embedding_3() -> None:
    embeddings = load_settings(environ={}).embeddings
    (model,) = embeddings.models
    assert model.codes == ("all-minilm-l6-v2", "embedding-3")
    assert model.gguf is None and model.matryoshka and not model.truncate
    assert embeddings.rerank is None


def test_own_model_and_settings(tmp_path: Path) -> None:
    gguf = tmp_path / "bge.gguf"
    gguf.write_bytes(b"GGUF")
    path = _write(
        tmp_path,
        '[embeddings]\ntruncate = true\naliases = []\nrerank = "bge"\n\n'
        '[[embeddings.models]]\ncode = "bge"\ngguf = "bge.gguf"\naliases = ["embedding-2"]\n'
        "price = 0.5\nmax_input_tokens = 512\n",
    )
    embeddings = load_settings(path, environ={}).embeddings
    own, default = embeddings.models
    assert own.gguf == gguf and own.codes == ("bge", "embedding-2")
    assert own.price is not None and own.price.input == 0.5 and not own.matryoshka
    assert own.max_input_tokens == 512
    assert default.codes == ("all-minilm-l6-v2",) and default.truncate
    assert embeddings.rerank == "bge"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[embeddings.models]]\ncode = "x"\ngguf = "missing.gguf"\n', "does not exist"),
        ('[[embeddings.models]]\ncode = "x"\n', "gguf"),
        ('[embeddings]\naliases = ["all-minilm-l6-v2"]\n', "repeat"),
        ('[embeddings]\naliases = ["rerank"]\n', "reserved"),
        ('[embeddings]\nrerank = "nope"\n', "no embedding model"),
        ("[embeddings]\nbatch_size = 8\n", "batch_size"),
        ("[embeddings]\ncolour = 1\n", "colour"),
    ],
)
def test_bad_embeddings_config_is_a_clear_error(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), environ={})
    assert says in str(info.value)
