"""Cost from the catalog price table, cached input at its own price."""

from glmserve.catalog import Price, builtin_spec
from glmserve.engine.types import Usage
from glmserve.platform.usage import cost_nano, nano_to_usd, usd_to_nano


def test_glm_4_7_prices_from_the_catalog() -> None:
    spec = builtin_spec("glm-4.7")
    assert spec is not None and spec.price == Price(0.6, 0.11, 2.2)
    usage = Usage(prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=500_000)
    # 600k input at 0.6, 400k cached at 0.11, 500k output at 2.2 (USD per 1M tokens)
    assert nano_to_usd(cost_nano(spec.price, usage)) == "1.504000000"


def test_small_requests_are_exact_in_nano_dollars() -> None:
    price = Price(0.07, 0.01, 0.4)
    assert cost_nano(price, Usage(prompt_tokens=3, cached_tokens=1, completion_tokens=2)) == (
        2 * 70 + 1 * 10 + 2 * 400
    )
    assert cost_nano(None, Usage(prompt_tokens=3)) == 0
    free = builtin_spec("gemma-3-270m")
    assert free is not None and cost_nano(free.price, Usage(5, 0, 5)) == 0


def test_usd_round_trip() -> None:
    assert usd_to_nano("2.5") == 2_500_000_000
    assert nano_to_usd(usd_to_nano("0.000000001")) == "0.000000001"
