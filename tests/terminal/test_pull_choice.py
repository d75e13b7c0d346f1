"""Which files ``glmserve pull REPO[:QUANT]`` takes from a repository's listing."""

from __future__ import annotations

import pytest

from glmserve.terminal.hub import HubError, HubFile
from glmserve.terminal.pull import choose, quant_of


def _files(*paths: str) -> list[HubFile]:
    return [HubFile(p, 1, "0" * 64) for p in paths]


@pytest.mark.parametrize(
    ("path", "quant"),
    [
        ("GLM-4.7-Flash-Q4_K_M.gguf", "Q4_K_M"),
        ("GLM-4.7-Flash-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
        ("glm-4.7-flash.q8_0.gguf", "Q8_0"),
        ("Q4_K_M/GLM-4.7-Q4_K_M-00001-of-00003.gguf", "Q4_K_M"),
        ("GLM-4.7-IQ2_XXS.gguf", "IQ2_XXS"),
        ("model-BF16.gguf", "BF16"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("model.gguf", None),
    ],
)
def test_quant_of(path: str, quant: str | None) -> None:
    assert quant_of(path) == quant


def test_a_split_gguf_is_taken_whole_first_part_first() -> None:
    files = _files(
        "Q8_0/GLM-4.7-Q8_0-00002-of-00002.gguf",
        "Q8_0/GLM-4.7-Q8_0-00001-of-00002.gguf",
        "GLM-4.7-Q4_K_M.gguf",
        "mmproj-Q8_0.gguf",
        "mmproj-F16.gguf",
    )
    choice = choose(files, "q8_0", "a/b")
    assert [f.path for f in choice.files] == [
        "Q8_0/GLM-4.7-Q8_0-00001-of-00002.gguf",
        "Q8_0/GLM-4.7-Q8_0-00002-of-00002.gguf",
    ]
    assert choice.mmproj is not None and choice.mmproj.path == "mmproj-Q8_0.gguf"
    default = choose(files, None, "a/b")  # several quants: Q4_K_M, as Ollama picks
    assert [f.path for f in default.files] == ["GLM-4.7-Q4_K_M.gguf"]
    assert default.mmproj is not None and default.mmproj.path == "mmproj-F16.gguf"


def test_a_file_name_picks_that_file_and_ambiguity_is_an_error() -> None:
    files = _files("a-Q4_K_M.gguf", "b-Q4_K_M.gguf", "a-Q8_0.gguf", "b-Q8_0.gguf")
    with pytest.raises(HubError, match="several Q4_K_M files"):
        choose(files, "Q4_K_M", "x/y")
    assert [f.path for f in choose(files, "b-Q4_K_M.gguf", "x/y").files] == ["b-Q4_K_M.gguf"]
    with pytest.raises(HubError, match="several GGUFs; available: Q5_0, Q8_0"):
        choose(_files("a-Q5_0.gguf", "a-Q8_0.gguf"), None, "x/y")
    with pytest.raises(HubError, match="has no GGUF"):
        choose(_files("README.md", "model.safetensors"), None, "x/y")
