"""The content-safety room: the ``[safety]`` policy built over the served models (the
guard model asked through the chat pipeline), used by chat as its content filter and
by ``POST /moderations`` (docs/safety.md)."""

from glmserve.serving.safety.service import SafetyService

__all__ = ["SafetyService"]
