"""Glossaries of the translation agent: inline terms, or a file uploaded to ``/files``
with purpose ``agent`` (docs/agents.md, "Glossaries").

A glossary file is text: one term a line, the source term and its translation split by
a tab, ``=``, ``->``, ``→`` or a comma (a CSV or TSV export of a spreadsheet works);
lines starting with ``#`` are comments; or a JSON object ``{"source": "target"}`` or list
of ``{"source", "target"}`` objects. Inline terms take the same JSON shapes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from glmserve.errors import InvalidField
from glmserve.platform.auth import Principal
from glmserve.platform.files import Files
from glmserve.serving.agents.material import read_text_file

__all__ = ["Term", "read_glossary", "parse_terms", "MAX_TERMS"]

Term = tuple[str, str]
MAX_TERMS = 500
"""A glossary is put into every prompt: more terms than this are refused."""
FIELD = "custom_variables.glossary"

_SPLIT = re.compile(r"\t|\s*(?:->|→|=>|=)\s*|\s*,\s*")


async def read_glossary(value: Any, caller: Principal, files: Files) -> list[Term]:
    """The terms of ``custom_variables.glossary``: a file id (the caller's own file of
    purpose ``agent``), or inline terms."""
    if value is None:
        return []
    if isinstance(value, str):
        return await _from_file(value, caller, files)
    return parse_terms(value, FIELD)


async def _from_file(file_id: str, caller: Principal, files: Files) -> list[Term]:
    _, text = await read_text_file(files, caller, file_id, FIELD)
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            return parse_terms(json.loads(stripped), FIELD)
        except json.JSONDecodeError:
            pass  # a text glossary whose first term starts with a bracket
    return _from_lines(stripped, file_id)


def _from_lines(text: str, file_id: str) -> list[Term]:
    terms: list[Term] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip().strip('"') for p in _SPLIT.split(line, maxsplit=1)]
        if len(parts) != 2 or not all(parts):
            raise InvalidField(
                FIELD,
                f"file {file_id!r} line {number}: write 'source term<TAB>translation' "
                "(or =, ->, a comma).",
            )
        terms.append((parts[0], parts[1]))
    return _checked(terms)


def parse_terms(value: Any, field: str) -> list[Term]:
    """Inline terms: ``{"source": "target", ...}`` or ``[{"source", "target"}, ...]``."""
    terms: list[Term] = []
    if isinstance(value, dict):
        for source, target in value.items():
            if not isinstance(target, str) or not source.strip() or not target.strip():
                raise InvalidField(field, "each term maps a source term to its translation.")
            terms.append((source.strip(), target.strip()))
    elif isinstance(value, list):
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or set(entry) != {"source", "target"}:
                raise InvalidField(f"{field}[{i}]", "must be an object with source and target.")
            source, target = entry["source"], entry["target"]
            if not isinstance(source, str) or not isinstance(target, str):
                raise InvalidField(f"{field}[{i}]", "source and target must be strings.")
            if not source.strip() or not target.strip():
                raise InvalidField(f"{field}[{i}]", "source and target must not be empty.")
            terms.append((source.strip(), target.strip()))
    else:
        raise InvalidField(field, "must be a file id, an object of terms or a list of terms.")
    return _checked(terms)


def _checked(terms: list[Term]) -> list[Term]:
    if not terms:
        raise InvalidField(FIELD, "the glossary has no terms.")
    if len(terms) > MAX_TERMS:
        raise InvalidField(FIELD, f"at most {MAX_TERMS} terms.")
    return terms
