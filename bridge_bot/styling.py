"""Markdown from the model, as XEP-0393 message styling where the two differ.

XEP-0393 has ``*strong*``, ``_emphasis_``, ``~strike~``, ```` `pre` ```` and ```` ``` ```` blocks
and ``>`` quotes, but no headings, links or ``**``. Code stays untouched.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*```")
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-+*]\s+(?=\S)")
_LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")


def _inline(text: str) -> str:
    parts = _INLINE_CODE.split(text)
    for index in range(0, len(parts), 2):  # odd parts are code spans: leave them
        part = parts[index]
        part = _LINK.sub(lambda m: m[1] if m[1] == m[2] else f"{m[1]} ({m[2]})", part)
        part = _EMPHASIS.sub(r"_\1_", part)
        part = _STRONG.sub(r"*\2*", part)
        part = _STRIKE.sub(r"~\1~", part)
        parts[index] = part
    return "".join(parts)


def markdown_to_styling(markdown: str) -> str:
    """Convert Markdown to XEP-0393 styling, line by line, leaving code blocks as they are."""
    out: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            out.append(line.strip())
            continue
        if in_code:
            out.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            out.append(f"*{_inline(heading[2]).strip('*')}*")
            continue
        line = _BULLET.sub(lambda m: f"{m[1]}• ", line)
        out.append(_inline(line))
    return "\n".join(out)
