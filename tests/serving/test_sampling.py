"""A request's sampling resolved against the catalog."""

from __future__ import annotations

import json

from glmserve.catalog import builtin_spec
from glmserve.config import HttpSettings
from glmserve.protocol.chat import parse_chat_request
from glmserve.serving.prepare.sampling import sampling

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

USER = [{"role": "user", "content": "Hi"}]


def _request(**fields: object):  # type: ignore[no-untyped-def]
    return parse_chat_request(
        json.dumps({"model": "glm-4.7", "messages": USER, **fields}).encode(), max_depth=DEPTH
    )


def test_sampling_takes_the_catalog_defaults() -> None:
    spec = builtin_spec("glm-4.7")
    assert spec is not None
    params = sampling(spec, _request())
    assert (params.temperature, params.top_p, params.top_k) == (1.0, 0.95, 20)
    assert sampling(spec, _request(top_p=0.5, top_k=5)).top_p == 0.5


def test_a_greedy_request_sends_no_truncation_but_keeps_its_penalties() -> None:
    spec = builtin_spec("glm-4.7")
    assert spec is not None
    for greedy in (_request(do_sample=False, top_p=0.5), _request(temperature=0)):
        params = sampling(spec, greedy)
        assert params.greedy
        # top_p/top_k/min_p cannot change a greedy answer: workers are not asked to sort.
        assert (params.top_p, params.top_k, params.min_p) == (1.0, 0, 0.0)
    penalised = sampling(spec, _request(do_sample=False, frequency_penalty=0.5, seed=7))
    assert penalised.frequency_penalty == 0.5 and penalised.seed == 7
