"""Text made safe for terminals and logs: one place that escapes what a terminal would obey.

Error lines, rejection lines and the server's request log repeat text that came from
outside (a file name, a CSV cell, an endpoint's error body, a request line). A terminal
obeys escape sequences in it (``ESC ]0;...`` retitles the window, ``ESC [2J`` clears it,
the C1 control ``CSI`` (``\\x9b``) does the same in one byte), and a newline forges a
second line. :func:`printable` writes every such character as a visible escape.
"""

from __future__ import annotations

__all__ = ["printable"]

# C0 controls (newline and tab included), DEL, the C1 controls, the Unicode line and
# paragraph separators, and the bidirectional overrides that reorder what is shown
_ESCAPED = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _ESCAPED} | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def printable(text) -> str:
    """``text`` with control characters written as escapes, so it shows as one inert line.

    >>> printable("bad\\x1b]0;owned\\x07 file\\nname\\x9b2J")
    'bad\\\\x1b]0;owned\\\\x07 file\\\\nname\\\\x9b2J'
    >>> printable("café 💉")
    'café 💉'
    """
    return str(text).translate(_TABLE)
