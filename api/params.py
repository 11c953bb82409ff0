"""Query and path parameter checks shared by resources."""

from __future__ import annotations

import re

#: A whole number as ASCII digits (str.isdigit also accepts '³' and other Unicode digits).
_WHOLE = re.compile(r"[0-9]{1,18}")


def whole_number(text: str | None) -> int | None:
    """``text`` as a non-negative int, or None when it is not plain ASCII digits (at most 18)."""
    return int(text) if text is not None and _WHOLE.fullmatch(text) else None
