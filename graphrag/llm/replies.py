"""Read a JSON value out of a model's reply, forgiving what small models get wrong.

Models wrap JSON in code fences, add text around it, cut it at the length limit or leave a
trailing comma. :func:`load_json_reply` strips a fence, tries strict JSON, then repairs the
text with ``json_repair``; a reply with no JSON value in it is a
:class:`MalformedReplyError`, whose message quotes the start of the reply.

Example:
    >>> load_json_reply('```json {"score": 80} ```')
    ({'score': 80}, True)
    >>> load_json_reply('{"points": [1, 2,]}')[0]
    {'points': [1, 2]}
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphrag.errors import LLMError

__all__ = ["MalformedReplyError", "excerpt", "load_json_reply"]

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```\s*$")


class MalformedReplyError(LLMError):
    """A reply holds no usable JSON value.

    Attributes:
        reason: What is wrong, in one line.
        reply: The reply as the model wrote it.
    """

    def __init__(self, reason: str, reply: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


def load_json_reply(text: str) -> tuple[Any, bool]:
    """Return the JSON value of a reply and whether it had to be repaired.

    Raises:
        MalformedReplyError: If the reply is empty or holds no JSON value.
    """
    stripped = _FENCE.sub("", text.strip())
    if not stripped:
        raise MalformedReplyError("the reply is empty", text)
    try:
        return json.loads(stripped), stripped != text.strip()
    except json.JSONDecodeError:
        pass
    import json_repair

    value = json_repair.loads(stripped)
    if value in ("", None) or isinstance(value, tuple):
        raise MalformedReplyError(f"no JSON in the reply ({excerpt(text)})", text)
    return value, True


def excerpt(text: str, limit: int = 60) -> str:
    """Return the start of ``text`` on one line, quoted, for error messages."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")
