"""What the client commands (``glmserve chat``, ``run``, ``pull``) read from the settings
and the environment: where the local server listens, the API key, the model hub.

``load.client_settings`` builds it (load.py stays the only reader of the environment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClientSettings", "DEFAULT_HF_ENDPOINT"]

DEFAULT_HF_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    """The local server's Z.AI base URL, e.g. ``http://127.0.0.1:8080/api/paas/v4``."""
    api_key: str | None
    """``GLMSERVE_API_KEY``, else ``ZAI_API_KEY``."""
    hf_endpoint: str
    """``HF_ENDPOINT``: the Hugging Face-compatible hub ``glmserve pull`` downloads from."""
    hf_token: str | None
    """``HF_TOKEN`` (or ``HUGGING_FACE_HUB_TOKEN``)."""
    cache_dir: Path | None
    """``GLMSERVE_CACHE_DIR`` or ``[server] cache_dir``; None: the platform's user cache."""
