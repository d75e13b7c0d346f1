"""The web console at ``/console`` (docs/console.md): server-rendered pages whose
JavaScript reads glmserve's own authenticated JSON API with the key the user signed in
with. The pages hold no data; everything a page shows comes through the API."""

from __future__ import annotations

from glmserve.console.routes import install

__all__ = ["install"]
