"""The request pipeline between the HTTP routes and the lower layers, in rooms:

- ``service.py``: the chat service that routes and jobs call: prepare (catalog checks,
  rendering through ``chat/``) and start (admission, then the model's engine);
- ``prepare/``: constraints, sampling and the steering plan of a request;
- ``run/``: a prepared completion and a running one (its deltas, finish reason and
  usage), its legs, the steerer, priority and the content-filter hook;
- ``jobs/``: stored work (async chat tasks, batch lines);
- ``media/``: fetching and decoding a request's images, video and PDF pages;
- ``models/``: the served models and their loading, and the engine registry;
- ``embeddings/``: the embeddings and rerank family;
- ``metrics.py``: serving metrics.
"""

from glmserve.serving.run.completion import (
    Completion,
    CompletionResult,
    PreparedCompletion,
    collect_result,
    finished_deltas,
)
from glmserve.serving.service import CompletionService

__all__ = [
    "Completion",
    "CompletionService",
    "PreparedCompletion",
    "CompletionResult",
    "collect_result",
    "finished_deltas",
]
