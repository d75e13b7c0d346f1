"""The model catalog: what each model code is, its limits, defaults, capabilities and price.

Behaviour follows the catalog, never ``if model == "glm-4.7"`` elsewhere. The built-in
entries carry Z.AI's documented values (docs.z.ai "Core Parameters" and "Pricing"
pages), so a user who points ``glm-4.7`` at a GGUF file gets Z.AI's defaults; the
config file may override any of them per served model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Capabilities",
    "ThinkingBudgets",
    "Price",
    "ModelSpec",
    "BUILTIN_MODELS",
    "DEFAULT_MODEL_CODE",
    "builtin_spec",
    "generic_spec",
    "EmbeddingSpec",
    "EMBEDDING_MODELS",
    "embedding_spec",
    "ToolSpec",
    "TOOLS",
    "READER_CODE",
    "SEARCH_ENGINES",
]

K = 1024


@dataclass(frozen=True)
class Capabilities:
    """What a model can do; later layers read these flags, never the model code."""

    thinking: bool = False
    """The model has a thinking (reasoning) mode."""
    thinking_default: bool = False
    """Thinking is on when the request does not say (Z.AI: GLM-4.5 and later)."""
    tools: bool = False
    """The chat template is given the request's tools (the model was taught to see
    them); the built-in transcript format of base models shows none."""
    tool_stream: bool = False
    vision: bool = False


BATCH_DISCOUNT = 0.5
"""Batch API requests cost this fraction of the real-time price (Z.AI's Batch API guide;
docs/platform.md)."""


@dataclass(frozen=True)
class ThinkingBudgets:
    """How long a thinking model may reason (docs/api.md, "Thinking budgets")."""

    default: int | None = None
    """Reasoning tokens when the request sets no budget (None: unlimited, as Z.AI)."""
    effort: tuple[tuple[str, int | None], ...] = (
        ("low", 1024),
        ("medium", 4096),
        ("high", 16384),
        ("xhigh", None),
        ("max", None),
    )
    """OpenAI ``reasoning_effort`` -> budget (None: unlimited); "none" and "minimal"
    turn thinking off."""
    closing: str = "\n\nI have thought about this long enough; time to answer.\n"
    """Reasoning text inserted before the end-of-thinking tag at the budget ("": none)."""
    answer_min_tokens: int = 256
    """The budget shrinks, within max_tokens, so the answer has at least this many."""

    def for_effort(self, effort: str) -> int | None:
        return dict(self.effort).get(effort)


@dataclass(frozen=True)
class Price:
    """USD per million tokens, as on Z.AI's pricing page."""

    input: float
    cached_input: float
    output: float

    def times(self, factor: float) -> Price:
        return Price(self.input * factor, self.cached_input * factor, self.output * factor)


@dataclass(frozen=True)
class ModelSpec:
    """Everything the server knows about a model code before any weights are loaded."""

    code: str
    family: str
    """Conversation-format family ("glm47", "glm45", "gemma", "generic"): selects the
    output parser and the built-in prompt format."""
    context_window: int
    """Documented context window in tokens (the served context may be smaller)."""
    default_max_tokens: int
    max_max_tokens: int
    temperature: float
    top_p: float
    capabilities: Capabilities = field(default_factory=Capabilities)
    top_k: int = 0
    """Default top-k (0: off). DashScope documents 20 for GLM-5, GLM-4.7 and GLM-4.6."""
    price: Price | None = None
    batch_discount: float = BATCH_DISCOUNT
    """Batch API requests cost this fraction of ``price`` (Z.AI's Batch API guide: 50%
    of the real-time price; docs/platform.md)."""
    thinking_budgets: ThinkingBudgets = field(default_factory=ThinkingBudgets)
    builtin_format: str = "chatml"
    """Built-in prompt format (glmserve.chat.formats), used only when the weights carry
    no chat template."""
    description: str = ""

    @property
    def batch_price(self) -> Price | None:
        return self.price.times(self.batch_discount) if self.price is not None else None


_GLM_THINKING = Capabilities(
    thinking=True, thinking_default=True, tools=True, tool_stream=True, vision=False
)
_GLM45_THINKING = Capabilities(
    thinking=True, thinking_default=True, tools=True, tool_stream=False, vision=False
)


def _glm(
    code: str,
    family: str,
    window: int,
    default_max: int,
    max_max: int,
    temperature: float,
    price: Price | None,
    caps: Capabilities = _GLM_THINKING,
    top_p: float = 0.95,
    top_k: int = 0,
) -> ModelSpec:
    return ModelSpec(
        code=code,
        family=family,
        context_window=window,
        default_max_tokens=default_max,
        max_max_tokens=max_max,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        capabilities=caps,
        price=price,
        description="GLM (Z.AI): chat template read from the weights.",
    )


_FREE = Price(0.0, 0.0, 0.0)
_TOP_K = 20  # the default top_k documented for GLM-5, GLM-4.7 and GLM-4.6 (docs/configuration.md)
_GLM47_PRICE = Price(0.6, 0.11, 2.2)

# Values: docs.z.ai "Core Parameters" (default/maximum max_tokens), model pages
# (context windows: 200K for GLM-5.x/4.7/4.6, 128K for GLM-4.5), "Pricing".
_GLM_TABLE: tuple[ModelSpec, ...] = (
    _glm("glm-5.1", "glm47", 200 * K, 65536, 131072, 1.0, Price(1.4, 0.26, 4.4), top_k=_TOP_K),
    _glm("glm-5", "glm47", 200 * K, 65536, 131072, 1.0, Price(1.0, 0.2, 3.2), top_k=_TOP_K),
    _glm("glm-5-turbo", "glm47", 200 * K, 65536, 131072, 1.0, Price(1.2, 0.24, 4.0), top_k=_TOP_K),
    _glm("glm-4.7", "glm47", 200 * K, 65536, 131072, 1.0, _GLM47_PRICE, top_k=_TOP_K),
    _glm("glm-4.7-flash", "glm47", 200 * K, 65536, 131072, 1.0, _FREE, top_k=_TOP_K),
    _glm(
        "glm-4.7-flashx", "glm47", 200 * K, 65536, 131072, 1.0, Price(0.07, 0.01, 0.4), top_k=_TOP_K
    ),
    _glm("glm-4.6", "glm45", 200 * K, 65536, 131072, 1.0, _GLM47_PRICE, top_k=_TOP_K),
    _glm("glm-4.5", "glm45", 128 * K, 65536, 98304, 0.6, _GLM47_PRICE, _GLM45_THINKING),
    _glm(
        "glm-4.5-air", "glm45", 128 * K, 65536, 98304, 0.6, Price(0.2, 0.03, 1.1), _GLM45_THINKING
    ),
    _glm("glm-4.5-x", "glm45", 128 * K, 65536, 98304, 0.6, Price(2.2, 0.45, 8.9), _GLM45_THINKING),
    _glm(
        "glm-4.5-airx", "glm45", 128 * K, 65536, 98304, 0.6, Price(1.1, 0.22, 4.5), _GLM45_THINKING
    ),
    # 128K as bigmodel.cn's model overview gives it (docs/configuration.md, "The model catalog")
    _glm("glm-4.5-flash", "glm45", 128 * K, 65536, 98304, 0.6, _FREE, _GLM45_THINKING),
    _glm(
        "glm-4-32b-0414-128k",
        "generic",
        128 * K,
        16384,
        16384,
        0.75,
        Price(0.1, 0.1, 0.1),
        Capabilities(tools=True),
        top_p=0.9,
    ),
)

# The GLM-4 family and the other models of bigmodel.cn's model overview (docs/configuration.md):
# windows and outputs from its tables, max_tokens from its "max_tokens" table. Where the
# two disagree the "max_tokens" table is followed (glm-4-flash-250414: 32768 there, 16K
# in the overview); "dynamic" default max_tokens (the rest of the window) is the maximum
# here, 4095. Only the free models have a price in that material (0); the others carry
# none (not billed) until ``price`` is set in their [[models]] entry.
_GLM4 = Capabilities(tools=True)


def _glm4(code: str, window: int, default_max: int, max_max: int, price: Price | None) -> ModelSpec:
    return _glm(code, "generic", window, default_max, max_max, 0.75, price, _GLM4, top_p=0.9)


_GLM4_TABLE: tuple[ModelSpec, ...] = (
    _glm4("glm-4-plus", 128 * K, 4095, 4095, None),
    _glm4("glm-4-air", 128 * K, 4095, 4095, None),
    _glm4("glm-4-airx", 8 * K, 4095, 4095, None),
    _glm4("glm-4-flash", 128 * K, 4095, 4095, _FREE),
    _glm4("glm-4-flashx", 128 * K, 4095, 4095, None),
    _glm4("glm-4-long", 1024 * K, 4096, 4096, None),
    _glm4("glm-4-air-250414", 128 * K, 16384, 16384, None),
    _glm4("glm-4-flash-250414", 128 * K, 32768, 32768, _FREE),
    _glm4("glm-4-flashx-250414", 128 * K, 16384, 16384, None),
    _glm4("codegeex-4", 128 * K, 32768, 32768, None),
    _glm("charglm-4", "generic", 8 * K, 4096, 4096, 0.95, None, Capabilities(), top_p=0.7),
    _glm(
        "glm-4v-flash",
        "generic",
        16 * K,
        1024,
        1024,
        0.8,
        _FREE,
        Capabilities(vision=True),
        top_p=0.6,
    ),
)

# Vision models (docs.z.ai "Core Parameters", model pages, "Pricing"; bigmodel.cn's model
# overview for GLM-4.1V-Thinking): they take images, video and documents when their
# engine can see (a projector configured, docs/configuration.md "Vision"). Z.AI's
# defaults for vision: temperature 0.8, top_p 0.6.
_VISION = Capabilities(
    thinking=True, thinking_default=True, tools=True, tool_stream=True, vision=True
)
_VISION_45 = Capabilities(
    thinking=True, thinking_default=True, tools=True, tool_stream=False, vision=True
)
_VISION_41 = Capabilities(thinking=True, thinking_default=True, tools=False, vision=True)


def _vision(
    code: str, family: str, window: int, default_max: int, max_max: int, price: Price | None,
    caps: Capabilities = _VISION,
) -> ModelSpec:  # fmt: skip
    return _glm(code, family, window, default_max, max_max, 0.8, price, caps, top_p=0.6)


_VISION_TABLE: tuple[ModelSpec, ...] = (
    _vision("glm-5v-turbo", "glm47", 200 * K, 65536, 131072, Price(1.2, 0.24, 4.0)),
    _vision("glm-4.6v", "glm45", 128 * K, 16384, 32768, Price(0.3, 0.05, 0.9)),
    _vision("glm-4.6v-flashx", "glm45", 128 * K, 16384, 32768, Price(0.04, 0.004, 0.4)),
    _vision("glm-4.6v-flash", "glm45", 128 * K, 16384, 32768, _FREE),
    _vision("glm-4.5v", "glm45", 64 * K, 16384, 16384, Price(0.6, 0.11, 1.8), _VISION_45),
    # 16K output as the model overview says; its max_tokens table says 32768
    _vision("glm-4.1v-thinking-flashx", "glm45", 64 * K, 16384, 16384, None, _VISION_41),
    _vision("glm-4.1v-thinking-flash", "glm45", 64 * K, 16384, 16384, _FREE, _VISION_41),
)

DEFAULT_MODEL_CODE = "gemma-3-270m"

# The embedded default: Gemma 3 270M *base* (pre-trained, not instruction-tuned), whose
# GGUF carries no chat template. It gets glmserve's built-in "transcript" format (a
# plain "User:/Assistant:" transcript), which a base model continues far better than
# Gemma's instruction-tuned turn markers, which it never learned. No thinking, no native
# tool format. It is free: it runs on your machine.
_GEMMA = ModelSpec(
    code=DEFAULT_MODEL_CODE,
    family="gemma",
    context_window=32 * K,
    default_max_tokens=512,
    max_max_tokens=8 * K,
    temperature=1.0,
    top_p=0.95,
    capabilities=Capabilities(),
    price=_FREE,
    builtin_format="transcript",
    description=(
        "Gemma 3 270M base (Q4_K_M), embedded default. A base model: its GGUF has no chat "
        "template, so glmserve renders prompts as a plain User:/Assistant: transcript "
        "(built-in 'transcript' format). No thinking, no native tool calls."
    ),
)

BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.code: spec for spec in (*_GLM_TABLE, *_GLM4_TABLE, *_VISION_TABLE, _GEMMA)
}


def builtin_spec(code: str) -> ModelSpec | None:
    """The catalog entry for a known model code, or None."""
    return BUILTIN_MODELS.get(code)


def generic_spec(code: str) -> ModelSpec:
    """Defaults for a model code the catalog does not know (a user's own GGUF)."""
    return ModelSpec(
        code=code,
        family="generic",
        context_window=128 * K,
        default_max_tokens=4096,
        max_max_tokens=128 * K,
        temperature=0.8,
        top_p=0.95,
        capabilities=Capabilities(tools=True),
        description="User model: chat template read from the weights (ChatML if none).",
    )


# -- Embedding and rerank models (docs/embeddings.md) --


@dataclass(frozen=True)
class EmbeddingSpec:
    """An embedding (or rerank) model code: its documented limits and price.

    A served model's real limits (its vector length, its token window) may be smaller:
    the serving layer uses the smaller of the two and says so in ``/models``.
    """

    code: str
    max_items: int
    """Inputs per request (Z.AI: 64 for embedding-3)."""
    max_input_tokens: int
    """Tokens per input, special tokens included."""
    dimensions: tuple[int, ...] | None
    """The ``dimensions`` values the code documents (the first is its default); None:
    any length up to the model's own, where the model allows truncation."""
    price: Price
    """USD per million input tokens (``input``); embeddings have no output tokens."""
    max_documents: int = 128
    """Rerank: documents per request (Z.AI's documented 128)."""
    description: str = ""


# Z.AI / BigModel: embedding-3 takes up to 64 inputs of 3072 tokens and returns 2048,
# 1024, 512 or 256 dimensions; embedding-2 512 tokens and 1024 dimensions; rerank up to
# 128 documents in a 4K window. Prices: BigModel lists 0.5 CNY per million tokens for
# both embedding models (about 0.07 USD); no rerank price is published in the material
# glmserve follows, so rerank is billed like the embeddings it is computed from.
_EMBEDDING_PRICE = Price(0.07, 0.07, 0.0)

EMBEDDING_MODELS: dict[str, EmbeddingSpec] = {
    spec.code: spec
    for spec in (
        EmbeddingSpec("embedding-3", 64, 3072, (2048, 1024, 512, 256), _EMBEDDING_PRICE),
        EmbeddingSpec("embedding-2", 64, 512, (1024,), _EMBEDDING_PRICE),
        EmbeddingSpec("rerank", 1, 4096, None, _EMBEDDING_PRICE),
        EmbeddingSpec(
            "all-minilm-l6-v2",
            64,
            256,
            None,
            _FREE,
            description=(
                "sentence-transformers all-MiniLM-L6-v2 (Apache-2.0), embedded default: "
                "384 dimensions, mean pooling, 256-token window; runs on your machine."
            ),
        ),
    )
}


def embedding_spec(code: str) -> EmbeddingSpec:
    """The catalog entry of an embedding model code; a user's own model gets Z.AI's
    request limits (64 inputs) and is free."""
    return EMBEDDING_MODELS.get(code) or EmbeddingSpec(code, 64, 1 << 20, None, _FREE)


# -- Tools: web search and the web reader (docs/search.md) --


@dataclass(frozen=True)
class ToolSpec:
    """A tool code (a search_engine code, or the reader) and its price per call."""

    code: str
    price_per_call: float
    """USD per call (Z.AI "Pricing", Built-in Tools: Web Search $0.01 / use)."""
    search: bool = True
    """A search engine code (``search_engine``); else the reader."""

    @property
    def price(self) -> Price:
        """As the ledger prices work: one call is one unit of ``input``, and ``Price``
        is per million units."""
        return Price(self.price_per_call * 1_000_000, 0.0, 0.0)


READER_CODE = "web-reader"

# Z.AI's and BigModel's search_engine codes all run on the configured back end
# ([search] backend); the reader has no published price.
TOOLS: dict[str, ToolSpec] = {
    spec.code: spec
    for spec in (
        ToolSpec("search-prime", 0.01),
        ToolSpec("search_std", 0.01),
        ToolSpec("search_pro", 0.01),
        ToolSpec("search_pro_sogou", 0.01),
        ToolSpec("search_pro_quark", 0.01),
        ToolSpec("search_pro_jina", 0.01),
        ToolSpec(READER_CODE, 0.0, search=False),
    )
}
SEARCH_ENGINES = tuple(code for code, spec in TOOLS.items() if spec.search)
