"""The content-filter hook: what a filter must answer, and where glmserve asks it.

The filter is the configured ``SafetyPolicy`` (glmserve.safety; ``[safety]`` in the
config, docs/safety.md) or any object with these two methods. The input is checked
once a request is prepared and before it is admitted: a blocked one is refused with
1301. The output is followed as it is written: a blocked output ends the completion,
as an error 1301 without a stream and with ``finish_reason: "sensitive"`` in a stream
that is already under way (Z.AI's abnormal-end rule, docs/api.md "Finish reasons").
What was flagged is reported in the response's ``content_filter``.
"""

from __future__ import annotations

from typing import Protocol

from glmserve.safety import Conversation, OutputScreen, Verdict

__all__ = ["ContentFilter", "content_filter_body"]


class ContentFilter(Protocol):
    async def check_input(self, conversation: Conversation) -> Verdict:
        """The verdict on a request's (role, text) turns."""
        ...

    def output_screen(self, conversation: Conversation) -> OutputScreen | None:
        """What follows one completion's output (None: the output is not checked)."""
        ...


def content_filter_body(flags: list[tuple[str, Verdict]]) -> list[dict[str, object]]:
    """Z.AI's ``content_filter``: ``[{role, level}]`` for each side that was flagged."""
    return [{"role": role, "level": verdict.level} for role, verdict in flags if verdict.flagged]
