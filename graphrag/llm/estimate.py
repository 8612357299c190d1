"""Token estimates before any call: budget checks and ``--dry-run`` figures.

:func:`estimate_tokens` is a characters-per-token heuristic (no model, no I/O). Measured
against the prompt tokens a real llama.cpp server reported for Gemma-3-270M on 30
paragraphs of the sample corpus (docs/llm.md, "Verified against a real server"), it was off
by +3.0 % in total (11.5 % mean per text), against -8.3 % (9.9 %) for the bundled MiniLM
word-piece tokenizer: closer where it matters (sums for budgets and dry runs), on the safe
side, and free. Pass ``count=TokenCounter().count`` to use MiniLM anyway. A chat request adds
template tokens: :data:`MESSAGE_OVERHEAD` per message and :data:`REPLY_OVERHEAD` once
(OpenAI's documented 3 + 3; Gemma on llama.cpp measured 3 + 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graphrag.llm.base import ChatMessage

CHARS_PER_TOKEN = 4.0
"""Characters per token of English text (GPT/Llama/Gemma tokenizers: about 3.5-4.5)."""
MESSAGE_OVERHEAD = 3
"""Chat-template tokens per message (role markers and separators)."""
REPLY_OVERHEAD = 3
"""Chat-template tokens per request (the start of the reply)."""


@dataclass(frozen=True)
class Pricing:
    """Prices per 1,000 tokens (any currency; the default is free).

    Attributes:
        per_1k_prompt: Price of 1,000 prompt tokens.
        per_1k_completion: Price of 1,000 completion tokens.
    """

    per_1k_prompt: float = 0.0
    per_1k_completion: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Return the price of a call with these token counts.

        Example:
            >>> Pricing(0.5, 1.5).cost(2000, 1000)
            2.5
        """
        return (
            prompt_tokens * self.per_1k_prompt + completion_tokens * self.per_1k_completion
        ) / 1000.0


Prompt = str | Sequence[ChatMessage]
"""A prompt to estimate: plain text (one user message) or a list of messages."""


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of ``text`` (characters / :data:`CHARS_PER_TOKEN`, rounded up).

    Example:
        >>> estimate_tokens("GraphRAG builds graphs.")
        6
        >>> estimate_tokens("")
        0
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(
    messages: Prompt, *, count: Callable[[str], int] = estimate_tokens
) -> int:
    """Estimate the prompt tokens of a chat request (text plus chat-template tokens).

    Args:
        messages: The messages, or one text (a single user message).
        count: The per-text estimator.

    Example:
        >>> estimate_prompt_tokens([ChatMessage.user("Capital of France?")])
        11
    """
    if isinstance(messages, str):
        messages = [ChatMessage.user(messages)]
    return sum(count(m.content) + MESSAGE_OVERHEAD for m in messages) + REPLY_OVERHEAD


@dataclass(frozen=True)
class Estimate:
    """The expected size and cost of a run, before it runs.

    Attributes:
        calls: Calls the run would make (cached prompts excluded).
        cached_calls: Prompts whose reply is already cached (free).
        prompt_tokens: Estimated prompt tokens of those calls.
        completion_tokens_guess: Expected completion tokens (``calls`` x the guess per call).
        cost: Estimated cost from the configured prices.
    """

    calls: int
    prompt_tokens: int
    completion_tokens_guess: int
    cost: float
    cached_calls: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt tokens plus the completion guess."""
        return self.prompt_tokens + self.completion_tokens_guess


def estimate_run(
    prompts: Sequence[Prompt],
    *,
    pricing: Pricing | None = None,
    completion_tokens_per_call: int = 256,
    is_cached: Callable[[Sequence[ChatMessage]], bool] | None = None,
    count: Callable[[str], int] = estimate_tokens,
) -> Estimate:
    """Estimate the calls, tokens and cost of sending ``prompts``, sending nothing.

    Args:
        prompts: One entry per planned call (text or messages).
        pricing: Prices per 1,000 tokens (default: free).
        completion_tokens_per_call: Expected reply length (measure it on a sample of the
            real task: the reply limit is an upper bound, not an expectation).
        is_cached: Tells whether a prompt's reply is already cached (those calls are free);
            e.g. ``lambda m: cached_model.is_cached(m, max_tokens=..., temperature=...)``.
        count: The per-text token estimator.

    Returns:
        The estimate.

    Example:
        >>> e = estimate_run(["a" * 400] * 3, pricing=Pricing(1.0, 2.0),
        ...                  completion_tokens_per_call=50)
        >>> (e.calls, e.prompt_tokens, e.completion_tokens_guess, round(e.cost, 3))
        (3, 318, 150, 0.618)
    """
    pricing = pricing or Pricing()
    calls = cached = prompt_tokens = 0
    for prompt in prompts:
        messages = [ChatMessage.user(prompt)] if isinstance(prompt, str) else list(prompt)
        if is_cached is not None and is_cached(messages):
            cached += 1
            continue
        calls += 1
        prompt_tokens += estimate_prompt_tokens(messages, count=count)
    completion = calls * completion_tokens_per_call
    return Estimate(
        calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens_guess=completion,
        cost=pricing.cost(prompt_tokens, completion),
        cached_calls=cached,
    )
