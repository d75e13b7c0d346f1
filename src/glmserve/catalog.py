"""The model catalog: what each model code is, its limits, defaults, capabilities and price.

Behaviour follows the catalog, never ``if model == "glm-4.7"`` elsewhere. The built-in
entries carry Z.AI's documented values (docs.z.ai "Core Parameters" and "Pricing"
pages), so a user who points ``glm-4.7`` at a GGUF file gets Z.AI's defaults; the
config file may override any of them per served model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = [
    "Capabilities",
    "ThinkingBudgets",
    "Price",
    "ModelSpec",
    "BUILTIN_MODELS",
    "DEFAULT_MODEL_CODE",
    "builtin_spec",
    "generic_spec",
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
    thinking_budgets: ThinkingBudgets = field(default_factory=ThinkingBudgets)
    builtin_format: str = "chatml"
    """Built-in prompt format (glmserve.chat.formats), used only when the weights carry
    no chat template."""
    description: str = ""


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
    # vision (docs.z.ai GLM-5V-Turbo page: 200K context; vision defaults 0.8 / 0.6)
    _glm(
        "glm-5v-turbo",
        "glm47",
        200 * K,
        65536,
        131072,
        0.8,
        Price(1.2, 0.24, 4.0),
        replace(_GLM_THINKING, vision=True),
        top_p=0.6,
    ),
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

BUILTIN_MODELS: dict[str, ModelSpec] = {spec.code: spec for spec in (*_GLM_TABLE, _GEMMA)}


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
