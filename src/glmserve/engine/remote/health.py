"""Whether a worker is routed to: a circuit breaker fed by requests and probes.

A worker starts "unknown" (routed to; the first probe settles it). A refused connection
takes it out at once; other failures take it out after ``failure_threshold`` in a row.
Out of routing, only a successful ``/health`` probe brings it back: re-admission is
decided by the probe, never by a request that happened to get through.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from glmserve.engine.types import HealthState

__all__ = ["HealthState", "Breaker"]


@dataclass
class Breaker:
    failure_threshold: int
    state: HealthState = "unknown"
    failures: int = 0
    """Consecutive failures since the last success."""
    last_error: str | None = None
    changed_at: float = 0.0
    readmissions: int = 0
    """Times the worker came back after being taken out."""

    @property
    def routable(self) -> bool:
        return self.state != "down"

    def succeeded(self) -> None:
        """A request went through: reset the count (a down worker stays down)."""
        self.failures = 0

    def failed(self, error: str, *, at_once: bool = False) -> bool:
        """Count a failure; True if it took the worker out of routing."""
        self.failures += 1
        self.last_error = error
        if self.state != "down" and (at_once or self.failures >= self.failure_threshold):
            self._set("down")
            return True
        return False

    def probed(self, healthy: bool, error: str | None = None) -> bool:
        """A probe's answer; True if it changed whether the worker is routed to."""
        if healthy:
            was_down = self.state == "down"
            self.failures = 0
            if self.state != "up":
                self._set("up")
                self.readmissions += was_down
            return was_down
        self.last_error = error
        if self.state != "down":
            self._set("down")
            return True
        return False

    def _set(self, state: HealthState) -> None:
        self.state = state
        self.changed_at = time.monotonic()
