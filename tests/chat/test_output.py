"""Output parsers for formats without reasoning or tool syntax."""

from hypothesis import given
from hypothesis import strategies as st

from glmserve.chat.output import PlainParser, TrimmedParser


def _feed(parser: PlainParser | TrimmedParser, pieces: list[str]) -> str:
    out = [d.text for p in pieces for d in parser.feed(p)]
    out += [d.text for d in parser.finish()]
    assert all(out), "no empty deltas"
    return "".join(out)


def test_trimmed_parser_strips_the_edges_only() -> None:
    assert _feed(TrimmedParser(), [" ", " The", " capital", "\n", " is", " Paris.", "\n", " "]) == (
        "The capital\n is Paris."
    )


@given(st.lists(st.text(alphabet=" \nab", max_size=5), max_size=12))
def test_trimmed_parser_equals_strip_for_any_split(pieces: list[str]) -> None:
    assert _feed(TrimmedParser(), pieces) == "".join(pieces).strip()


@given(st.lists(st.text(max_size=5), max_size=12))
def test_plain_parser_keeps_everything(pieces: list[str]) -> None:
    assert _feed(PlainParser(), pieces) == "".join(pieces)
