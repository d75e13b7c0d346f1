"""Agent conversations: the turns of one ``conversation_id`` and the state an agent keeps
between them (the slide agent's deck), stored as a JSON object in the file store
(docs/agents.md, "Conversations"), so they outlive the process and every gateway of one
deployment reads them. A conversation belongs to the key that started it; another
key is told it does not exist.

Two turns of one conversation at the same moment: the later save wins.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from glmserve.errors import InvalidField
from glmserve.platform.filestore import ObjectStore

__all__ = ["Conversation", "Conversations", "new_conversation_id"]


def new_conversation_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10)


@dataclass
class Conversation:
    id: str
    key_id: str
    agent_id: str
    created_at: int
    turns: list[dict[str, Any]] = field(default_factory=list)
    """``{"role": "user" | "assistant", "contents": [...], "created_at"}`` in order."""
    state: dict[str, Any] = field(default_factory=dict)

    def add(self, role: str, contents: list[dict[str, Any]]) -> None:
        self.turns.append({"role": role, "contents": contents, "created_at": int(time.time())})


class Conversations:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @staticmethod
    def _name(conversation_id: str) -> str:
        return f"agentconv_{conversation_id}.json"

    def new(self, key_id: str, agent_id: str) -> Conversation:
        return Conversation(new_conversation_id(), key_id, agent_id, int(time.time()))

    async def load(self, key_id: str, agent_id: str, conversation_id: str) -> Conversation:
        """The key's conversation with this agent; 1214 naming conversation_id if there
        is none (or it is another key's, or another agent's)."""
        missing = InvalidField(
            "conversation_id", f"conversation {conversation_id!r} does not exist for {agent_id}."
        )
        if not conversation_id.isalnum() or len(conversation_id) > 64:
            raise missing
        try:
            data = await asyncio.to_thread(self._store.get, self._name(conversation_id))
        except KeyError:
            raise missing from None
        raw = json.loads(data)
        if raw.get("key_id") != key_id or raw.get("agent_id") != agent_id:
            raise missing
        return Conversation(**raw)

    async def save(self, conversation: Conversation) -> None:
        data = json.dumps(asdict(conversation), ensure_ascii=False).encode()
        await asyncio.to_thread(self._store.put, self._name(conversation.id), data)
