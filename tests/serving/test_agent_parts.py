"""The agents' pure parts, without a model: the language detector and codes, the
request's checks, glossary terms, the deck's Markdown, its HTML and its PPTX."""

from __future__ import annotations

import io

import pytest
from pptx import Presentation

from glmserve.errors import InvalidField, MissingField
from glmserve.protocol.agents import parse_agent_request
from glmserve.serving.agents.deck import MAX_POINTS, parse_deck
from glmserve.serving.agents.glossary import parse_terms
from glmserve.serving.agents.languages import detect_language, known_code
from glmserve.serving.agents.slides_export import pptx
from glmserve.serving.agents.slides_html import render_html


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Two roads diverged in a wood, and I took the one less traveled by.", "en"),
        ("林中有两条路分叉，而我选择了那条少有人走的路。这是我们的选择。", "zh-CN"),  # noqa: RUF001
        ("這是我們的選擇，他們說這個時候會來。", "zh-TW"),  # noqa: RUF001
        ("森の中で道が二つに分かれていた。", "ja"),
        ("숲 속에 두 갈래 길이 있었다.", "ko"),
        ("Deux routes divergeaient dans un bois, et j'ai pris la moins fréquentée.", "fr"),
        ("Zwei Wege trennten sich im Wald, und ich nahm den, der weniger begangen war.", "de"),
        ("Dos caminos se bifurcaban en un bosque y yo tomé el menos transitado.", "es"),
        ("Две дороги разошлись в лесу, и я выбрал ту, что менее исхожена.", "ru"),
        ("افترق طريقان في غابة، واخترت الطريق الأقل سفرا.", "ar"),
        ("Hai con đường tách ra trong rừng, và tôi đã chọn con đường ít người đi.", "vi"),
        ("ถนนสองสายแยกออกจากกันในป่า", "th"),
    ],
)
def test_the_detector_names_the_language(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_language_codes_are_case_insensitive_with_aliases() -> None:
    assert known_code("ZH") == "zh-CN"
    assert known_code("zh_tw") == "zh-TW"
    assert known_code("EN") == "en"
    assert known_code("Pinyin") == "pinyin"
    assert known_code("klingon") is None


def test_requests_are_checked_field_by_field() -> None:
    request = parse_agent_request(
        {
            "agent_id": "general_translation",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "custom_variables": {"target_lang": "fr"},
            "request_id": 12,
        }
    )
    assert request.texts == ("Hi",) and request.request_id == "12"
    with pytest.raises(MissingField, match="agent_id"):
        parse_agent_request({"messages": "hi"})
    with pytest.raises(InvalidField, match=r"messages\[0\].role"):
        parse_agent_request({"agent_id": "a", "messages": [{"role": "system", "content": "x"}]})
    with pytest.raises(InvalidField, match=r"messages\[0\].content\[0\]"):
        parse_agent_request(
            {"agent_id": "a", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}
        )
    checked = parse_agent_request(
        {"agent_id": "a", "sensitive_word_check": {"type": "ALL", "status": "DISABLE"}}
    )
    assert checked.sensitive_word_check == {"type": "ALL", "status": "DISABLE"}
    with pytest.raises(InvalidField, match="sensitive_word_check"):
        parse_agent_request({"agent_id": "a", "sensitive_word_check": {"status": "OFF"}})
    with pytest.raises(InvalidField, match="temperature"):
        parse_agent_request({"agent_id": "a", "temperature": 0.5})


def test_glossary_terms_inline() -> None:
    assert parse_terms({"Widget": "Bidule"}, "g") == [("Widget", "Bidule")]
    assert parse_terms([{"source": "a", "target": "b"}], "g") == [("a", "b")]
    with pytest.raises(InvalidField, match=r"g\[0\]"):
        parse_terms([{"source": "a"}], "g")
    with pytest.raises(InvalidField):
        parse_terms(42, "g")


DECK = """# Launch <plan>
> Q3 & beyond

## Why
- Demand
- Team

Loose line becomes a point

## Many
""" + "\n".join(f"- point {i}" for i in range(MAX_POINTS + 2))


def test_the_deck_keeps_every_line_and_continues_long_slides() -> None:
    deck = parse_deck(DECK)
    assert deck.title == "Launch <plan>" and deck.subtitle == "Q3 & beyond"
    assert [p.title for p in deck.pages] == ["Why", "Many", "Many (continued)"]
    assert deck.pages[0].points == ("Demand", "Team", "Loose line becomes a point")
    assert len(deck.pages[1].points) == MAX_POINTS and len(deck.pages[2].points) == 2
    assert deck.page_count == 4
    untitled = parse_deck("just text\nmore text", fallback_title="Brief")
    assert untitled.title == "Brief" and untitled.pages[0].points == ("just text", "more text")


def test_html_escapes_the_text_and_references_nothing() -> None:
    html = render_html(parse_deck(DECK))
    assert html.count('<section class="page') == 4
    assert "Launch &lt;plan&gt;" in html and "Q3 &amp; beyond" in html
    for outside in ("http:", "https:", "<script", "<link", "<img", "@import", "url("):
        assert outside not in html


def test_pptx_has_a_slide_per_page() -> None:
    for kind, pages in (("slides", 4), ("poster", 1)):
        deck = parse_deck(DECK, kind)
        assert deck.page_count == pages
        assert len(Presentation(io.BytesIO(pptx(deck))).slides) == pages


def test_strategy_config_applies_to_its_strategy_only() -> None:
    from glmserve.serving.agents.translation import _strategy_config

    assert _strategy_config({"cot": {"reason_lang": "from"}}, "cot") == {"reason_lang": "from"}
    with pytest.raises(InvalidField, match=r"strategy_config\.cot"):
        _strategy_config({"cot": {"reason_lang": "from"}}, "general")
    with pytest.raises(InvalidField, match=r"strategy_config\.general\.reason_lang"):
        _strategy_config({"general": {"reason_lang": "from"}}, "general")
    with pytest.raises(InvalidField, match=r"reason_lang"):
        _strategy_config({"cot": {"reason_lang": "both"}}, "cot")


def test_the_cot_analysis_is_written_in_the_language_asked_for() -> None:
    from glmserve.serving.agents.translation_prompts import Brief, step_messages

    for reason_lang, language in (("from", "English"), ("to", "French")):
        brief = Brief(text="Hello", source="en", target="fr", reason_lang=reason_lang)
        (system, user) = step_messages("ANALYZE", brief, {})
        assert f"Write the analysis in {language};" in user["content"]
        assert "The source text is in English." in system["content"]
    same = Brief(text="Hello", source="en", target="en")
    assert "polish" in step_messages("TRANSLATE", same, {})[0]["content"]
