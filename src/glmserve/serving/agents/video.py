"""The special-effect video template agents (docs/agents.md, "Video templates"): they
need a video generation engine, which glmserve does not have yet, so a request for one
is refused with 1214 naming what is missing rather than answered with a 404."""

from __future__ import annotations

from glmserve.errors import InvalidField

__all__ = ["VIDEO_AGENTS", "video_unavailable"]

VIDEO_AGENTS = ("vidu_template_agent", "french_kiss", "bodyshake", "sexy_me")
"""The template agent and its templates (Z.AI's French Kiss, Body Shake Dance, Sexy Me)."""


def video_unavailable(agent_id: str) -> InvalidField:
    return InvalidField(
        "agent_id",
        f"{agent_id!r} is a video template agent: it needs a video generation engine, "
        "and none is configured on this server (glmserve serves no video model yet).",
    )
