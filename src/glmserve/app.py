"""The application object: owns the settings, the served models and the services.

Nothing in glmserve keeps module-level state; everything hangs off one ``GlmServe``
passed to the HTTP layer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from glmserve.config import Settings
from glmserve.platform.auth import Authenticator, OpenAuthenticator
from glmserve.platform.completions import CompletionService
from glmserve.platform.models import ModelRegistry, load_models
from glmserve.platform.testhooks import TestHooks

__all__ = ["GlmServe"]


@dataclass
class GlmServe:
    settings: Settings
    models: ModelRegistry
    auth: Authenticator = field(default_factory=OpenAuthenticator)
    completions: CompletionService = field(init=False)

    def __post_init__(self) -> None:
        hooks = TestHooks.from_environ(os.environ)  # TEST ONLY; None unless a test sets it
        self.completions = CompletionService(self.models, hooks=hooks)

    @classmethod
    def load(cls, settings: Settings, *, progress: bool = True) -> GlmServe:
        return cls(settings, load_models(settings, progress=progress))

    def close(self) -> None:
        self.models.close()
