"""Text files the agents read: uploaded to ``/files`` with purpose ``agent`` by the
caller's key (a glossary, a brief's material; docs/agents.md)."""

from __future__ import annotations

from glmserve.errors import FileNotFound, InvalidField
from glmserve.platform.auth import Principal
from glmserve.platform.files import Files

__all__ = ["AGENT_PURPOSE", "read_text_file", "read_material"]

AGENT_PURPOSE = "agent"
MAX_MATERIAL_FILES = 5
MAX_MATERIAL_CHARS = 20_000
"""What a brief's material may hold in all: it goes into the prompts whole."""


async def read_text_file(
    files: Files, caller: Principal, file_id: str, field: str
) -> tuple[str, str]:
    """``(filename, text)`` of the caller's own ``agent`` file; 1214 naming ``field``
    otherwise (another key's file is reported like a missing one)."""
    try:
        row = await files.own(caller.key_id, file_id)
    except FileNotFound:
        raise InvalidField(field, f"file {file_id!r} does not exist.") from None
    if row.purpose != AGENT_PURPOSE:
        raise InvalidField(
            field, f"file {file_id!r} was uploaded with purpose {row.purpose!r}, not 'agent'."
        )
    data = await files.read(row)
    try:
        return row.filename, data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidField(field, f"file {file_id!r} is not UTF-8 text.") from None


async def read_material(
    files: Files, caller: Principal, value: object, field: str
) -> tuple[tuple[str, str], ...]:
    """A list of file ids: each file's ``(filename, text)``, within the limits."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidField(field, "must be a list of file ids.")
    if len(value) > MAX_MATERIAL_FILES:
        raise InvalidField(field, f"at most {MAX_MATERIAL_FILES} files.")
    material = [
        await read_text_file(files, caller, v, f"{field}[{i}]") for i, v in enumerate(value)
    ]
    if sum(len(text) for _, text in material) > MAX_MATERIAL_CHARS:
        raise InvalidField(field, f"the files hold more than {MAX_MATERIAL_CHARS} characters.")
    return tuple(material)
