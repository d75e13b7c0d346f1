"""Incremental decoding and stop strings, fed byte by byte and token by token."""

from hypothesis import given
from hypothesis import strategies as st

from glmserve.engine.text import TextStream


def _run(pieces: list[bytes], stop: tuple[str, ...]) -> tuple[str, bool]:
    stream = TextStream(stop)
    out = "".join(stream.push(p) for p in pieces)
    return out + stream.flush(), stream.stopped


def test_multibyte_character_split_across_tokens_is_held_until_complete() -> None:
    data = "héllo 世界".encode()
    stream = TextStream()
    released = [stream.push(data[i : i + 1]) for i in range(len(data))]
    assert "".join(released) + stream.flush() == "héllo 世界"
    # the first byte of 'é' alone releases nothing
    assert released[1] == ""


def test_stop_string_ends_text_and_is_not_included() -> None:
    assert _run([b"Hello", b" wor", b"ld. END", b" more"], ("END",)) == ("Hello world. ", True)


def test_stop_string_spanning_tokens() -> None:
    assert _run([b"abc<", b"|st", b"op|>", b"x"], ("<|stop|>",)) == ("abc", True)


def test_partial_stop_prefix_is_released_when_it_does_not_complete() -> None:
    stream = TextStream(("STOP",))
    assert stream.push(b"go ST") == "go "
    assert stream.push(b"AY") == "STAY"
    assert not stream.stopped


def test_earliest_of_several_stop_strings_wins() -> None:
    assert _run([b"one two three"], ("three", "two")) == ("one ", True)


def test_held_prefix_is_flushed_at_the_end() -> None:
    assert _run([b"ends with ST"], ("STOP",)) == ("ends with ST", False)


@given(st.text(max_size=60), st.lists(st.integers(1, 7), max_size=30))
def test_any_split_gives_the_same_text(text: str, cuts: list[int]) -> None:
    data = text.encode()
    pieces, i = [], 0
    for n in cuts:
        pieces.append(data[i : i + n])
        i += n
    pieces.append(data[i:])
    assert _run(pieces, ())[0] == text


@given(st.text(alphabet="abxy", max_size=40), st.text(alphabet="abxy", min_size=1, max_size=4))
def test_stop_matches_plain_find(text: str, stop: str) -> None:
    pieces = [c.encode() for c in text]
    out, stopped = _run(pieces, (stop,))
    cut = text.find(stop)
    assert stopped == (cut >= 0)
    assert out == (text[:cut] if cut >= 0 else text)
