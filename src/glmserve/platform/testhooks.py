"""TEST ONLY: hooks that let an end-to-end test replay a recorded model output.

A model with random weights cannot write GLM's format; to drive the real server, the
real engine and the real parser over HTTP, a test makes the sampler return a recorded
output token by token (``SamplingParams.forced_tokens``) and reads back the prompts
the engine was given. Both are switched on only by these environment variables, which
nothing but the test suite sets:

- ``GLMSERVE_TEST_FORCED_OUTPUTS``: a JSON file holding a list of output texts; each
  completion request takes the next one (tokenized by the model's own tokenizer);
- ``GLMSERVE_TEST_PROMPT_LOG``: a file to which each rendered prompt is appended as
  one JSON line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

__all__ = ["TestHooks", "FORCED_OUTPUTS_ENV", "PROMPT_LOG_ENV"]

FORCED_OUTPUTS_ENV = "GLMSERVE_TEST_FORCED_OUTPUTS"
PROMPT_LOG_ENV = "GLMSERVE_TEST_PROMPT_LOG"


class TestHooks:
    __test__ = False  # not a pytest test class

    def __init__(self, outputs: list[str], prompt_log: Path | None) -> None:
        self._outputs = outputs
        self._prompt_log = prompt_log
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TestHooks | None:
        forced, log = environ.get(FORCED_OUTPUTS_ENV), environ.get(PROMPT_LOG_ENV)
        if not forced and not log:
            return None
        outputs = json.loads(Path(forced).read_text()) if forced else []
        return cls([str(o) for o in outputs], Path(log) if log else None)

    def next_output(self) -> str | None:
        with self._lock:
            return self._outputs.pop(0) if self._outputs else None

    def record(self, prompt: str) -> None:
        if self._prompt_log is not None:
            with self._lock, self._prompt_log.open("a") as out:
                out.write(json.dumps(prompt, ensure_ascii=False) + "\n")
