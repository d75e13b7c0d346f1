"""The content-filter hook: what a filter must answer, and where glmserve asks it.

No filter is configured by default, and glmserve ships none: a deployment that needs
one passes an object with these two methods to the ``CompletionService``. A blocked
prompt is refused with 1301 before any work; a blocked output ends the completion:
an error 1301 without a stream, ``finish_reason: "sensitive"`` in a stream that is
already under way (Z.AI's abnormal-end rule, docs/api.md "Finish reasons").
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ContentFilter"]


class ContentFilter(Protocol):
    def blocks_prompt(self, prompt: str) -> bool:
        """True if the rendered prompt must not be answered."""
        ...

    def blocks_output(self, text: str) -> bool:
        """True if the output so far (reasoning and content, in order) must stop.
        Called after every token that adds text: keep it cheap."""
        ...
