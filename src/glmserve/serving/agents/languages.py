"""The languages the translation agent knows, and a cheap detector for ``source_lang:
"auto"`` (docs/agents.md, "Languages").

The detector costs no model call: the writing system decides most languages (Hangul,
kana, Han, Cyrillic, Arabic, Thai, ...), and among Latin-script languages the one whose
common short words and letters occur most in the text wins. It is a heuristic: a
sentence or two is enough for the languages listed here, a single word may not be.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["LANGUAGES", "TRANSCRIPTIONS", "detect_language", "language_name", "known_code"]

LANGUAGES: dict[str, str] = {
    "zh-CN": "Simplified Chinese",
    "zh-TW": "Traditional Chinese",
    "lzh": "Classical Chinese",
    "yue": "Cantonese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "pt": "Portuguese",
    "it": "Italian",
    "ru": "Russian",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "fa": "Persian",
    "ur": "Urdu",
    "he": "Hebrew",
    "hi": "Hindi",
    "bn": "Bengali",
    "th": "Thai",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ms": "Malay",
    "tl": "Filipino",
    "km": "Khmer",
    "lo": "Lao",
    "my": "Burmese",
    "tr": "Turkish",
    "nl": "Dutch",
    "pl": "Polish",
    "cs": "Czech",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "el": "Greek",
    "hu": "Hungarian",
    "ro": "Romanian",
    "bg": "Bulgarian",
    "mn": "Mongolian",
    "kk": "Kazakh",
    "sw": "Swahili",
}
"""Language codes (BCP 47 style, as Z.AI's translation agent names them) -> names."""

TRANSCRIPTIONS: dict[str, str] = {
    "pinyin": "Hanyu Pinyin with tone marks",
    "ipa": "the International Phonetic Alphabet (IPA)",
}
"""Targets that write the text's pronunciation instead of translating it."""

_ALIASES = {"zh": "zh-CN", "zh-hans": "zh-CN", "zh-hant": "zh-TW", "zh-hk": "zh-TW", "nb": "no"}
_BY_LOWER = {code.lower(): code for code in (*LANGUAGES, *TRANSCRIPTIONS)}


def known_code(code: str) -> str | None:
    """The canonical form of a language code (case-insensitive; ``zh`` is zh-CN), or
    None if the agent does not know it."""
    lowered = code.strip().lower().replace("_", "-")
    return _BY_LOWER.get(_ALIASES.get(lowered, lowered).lower())


def language_name(code: str) -> str:
    return LANGUAGES.get(code) or TRANSCRIPTIONS[code]


# Characters only Traditional (or only Simplified) Chinese writes, among the commonest.
_TRADITIONAL = set("們這個來說為時國會學與對後從點經發開關體員問題長應實現區電過車東書將")
_SIMPLIFIED = set("们这个来说为时国会学与对后从点经发开关体员问题长应实现区电过车东书将")
_CLASSICAL = set("之乎者也矣焉哉兮曰吾汝")
_CANTONESE = set("嘅咗喺唔啲冇佢哋乜嘢")

_SCRIPT_LANGUAGE = {
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "THAI": "th",
    "LAO": "lo",
    "KHMER": "km",
    "MYANMAR": "my",
    "HEBREW": "he",
    "GREEK": "el",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
}

# Common short words of each Latin-script language (lower case), and letters only it uses.
_WORDS = {
    "en": "the and of to is in that it was for with as on are this be by you not",
    "fr": "le la les et des est un une que dans pour pas qui sur au du ce ne",
    "de": "der die das und ist nicht ein eine zu den mit von sich auf für dem ich",
    "es": "el la los las y es que en un una por para con del se no lo",
    "pt": "o a os as e é que em um uma para com não do da se por",
    "it": "il lo la gli le e è che di un una per con non del della sono",
    "nl": "de het een en is van dat niet op te zijn voor met die",
    "pl": "i w na nie się to że jest z do jak czy tak od",
    "tr": "ve bir bu da de için ile çok ne var değil gibi",
    "id": "dan yang di itu ini dengan untuk tidak ada dari akan saya",
    "sv": "och att det som en är på av för inte med jag",
    "da": "og at det som en er på af for ikke med jeg",
    "no": "og at det som en er på av for ikke med jeg",
    "fi": "ja on ei se että oli hän mutta kun niin",
    "ro": "și în este nu un o la cu pe să care",
    "hu": "a az és hogy nem egy van is de meg",
    "cs": "a je se na že to v jsem jako ale",
    "sw": "na ya wa kwa ni za katika hii",
    "tl": "ang ng mga sa na at ay ko",
    "ms": "dan yang di itu ini dengan untuk tidak ada dari akan saya",
}
_WORD_SETS = {code: set(words.split()) for code, words in _WORDS.items()}
_LETTERS = {
    "de": "äöüß",
    "fr": "àâçèéêëîïôûùœ",
    "es": "ñ¿¡áíóú",
    "pt": "ãõçáâêô",
    "pl": "ąćęłńśźż",
    "tr": "ğışçöü",
    "sv": "åäö",
    "da": "æøå",
    "no": "æøå",
    "ro": "ăâîșț",
    "cs": "ěščřžýů",
    "hu": "őű",
    "vi": "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str) -> str:
    """The language code of ``text``: by writing system, then by common words."""
    scripts = Counter(_script(ch) for ch in text if ch.isalpha())
    scripts.pop(None, None)
    if not scripts:
        return "en"
    script = scripts.most_common(1)[0][0]
    if scripts["HIRAGANA"] or scripts["KATAKANA"]:
        return "ja"
    if script == "CJK":
        return _chinese(text)
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script]
    if script == "CYRILLIC":
        return "uk" if set(text.lower()) & set("іїєґ") else "ru"
    if script == "ARABIC":
        if set(text) & set("ےٹڈڑں"):
            return "ur"
        return "fa" if set(text) & set("پچژگ") else "ar"
    return _latin(text)


def _script(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    if name.startswith("CJK"):
        return "CJK"
    first = name.split()[0]
    return first if first in (*_SCRIPT_LANGUAGE, "CYRILLIC", "ARABIC", "LATIN") else None


def _chinese(text: str) -> str:
    chars = set(text)
    if len(chars & _CANTONESE) >= 2:
        return "yue"
    if len(chars & _CLASSICAL) >= 3 and not chars & set("的了是们這这"):
        return "lzh"
    return "zh-TW" if len(chars & _TRADITIONAL) > len(chars & _SIMPLIFIED) else "zh-CN"


def _latin(text: str) -> str:
    lowered = text.lower()
    words = _WORD.findall(lowered)
    scores: Counter[str] = Counter()
    for code, common in _WORD_SETS.items():
        scores[code] = sum(word in common for word in words) * 2
    for code, letters in _LETTERS.items():
        scores[code] += sum(lowered.count(letter) for letter in letters)
    if scores["vi"] >= 3:  # its tone marks are unmistakable
        return "vi"
    best, score = scores.most_common(1)[0]
    return best if score > 0 else "en"
