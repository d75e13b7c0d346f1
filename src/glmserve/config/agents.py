"""Settings of the agents API (TOML ``[agents]``, docs/agents.md):

[agents]
model = "glm-4.7"        # the served model every agent's calls run on
                         # (default: the first GLM chat model served, else the first)
chromium = "/usr/bin/chromium"   # prints the slide agent's PDFs
                                 # (default: chromium on the PATH)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AgentsFile", "AgentSettings", "agent_settings"]


class AgentsFile(BaseModel):
    """``[agents]`` in the TOML file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str | None = Field(default=None, min_length=1)
    chromium: str | None = Field(default=None, min_length=1)


@dataclass(frozen=True)
class AgentSettings:
    model: str | None = None
    """The served model agents run on; None: the first GLM chat model served."""
    chromium: Path | None = None
    """The Chromium that prints PDFs; None: one on the PATH, if any."""


def agent_settings(section: AgentsFile, served: list[str], where: str) -> AgentSettings:
    """The validated ``[agents]`` section; raises ValueError naming a bad value."""
    if section.model is not None and section.model not in served:
        raise ValueError(
            f"{where}: agents.model = {section.model!r} is not a served model "
            f"(served: {', '.join(served)})"
        )
    chromium = None
    if section.chromium is not None:
        chromium = Path(section.chromium).expanduser()
        if not chromium.is_file():
            raise ValueError(f"{where}: agents.chromium = {section.chromium!r} is not a file")
    return AgentSettings(model=section.model, chromium=chromium)
