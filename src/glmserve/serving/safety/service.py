"""``SafetyService``: the configured safety policy, and the moderation answers built
on it (moderation.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glmserve.config.safety import SafetySettings
from glmserve.platform.admission import Attempt
from glmserve.safety import GuardModel, KeywordList, SafetyPolicy
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.safety.guard_runner import GuardRunner
from glmserve.serving.safety.moderation import moderate

__all__ = ["SafetyService"]


class SafetyService:
    def __init__(self, settings: SafetySettings, models: ModelRegistry) -> None:
        self.settings = settings
        guard = None
        if settings.guard_model is not None:
            runner = GuardRunner(models, settings.guard_model, settings.guard_max_tokens)
            guard = GuardModel(
                runner, prompt=settings.guard_prompt, max_chars=settings.guard_max_chars
            )
        self.policy = SafetyPolicy(
            KeywordList(settings.keywords),
            guard,
            keywords_on=settings.keywords_on,
            guard_on=settings.guard_on,
            guard_every_chars=settings.guard_every_chars,
        )

    @property
    def content_filter(self) -> SafetyPolicy | None:
        """The chat pipeline's content filter; None when nothing is configured."""
        return self.policy if self.policy.active else None

    async def moderate(self, body: Mapping[str, Any], metered: Attempt) -> dict[str, Any]:
        """The ``POST /moderations`` response body (moderation.py)."""
        return await moderate(self.policy, self.settings.moderation_price, body, metered)
