"""The request pipeline between the HTTP routes and the lower layers.

- ``completions.py``: prepare (catalog checks, rendering through ``chat/``, constraints,
  sampling) and start (admission, then the model's engine);
- ``completion.py``: a prepared completion, and a running one: its deltas, finish
  reason and usage;
- ``constraints.py``, ``sampling.py``: what a request forces and how it samples;
- ``models.py``: the served models and their loading; ``engines.py``: the engine registry;
- ``metrics.py``: serving metrics; ``async_chat.py``: async chat tasks through the pipeline.
"""

from glmserve.serving.completion import (
    Completion,
    PreparedCompletion,
    completion_result,
    finished_deltas,
)
from glmserve.serving.completions import CompletionService

__all__ = [
    "Completion",
    "CompletionService",
    "PreparedCompletion",
    "completion_result",
    "finished_deltas",
]
