"""Render Python values as HCL literals, escaped so no value can change the code around it."""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl_string(text: str) -> str:
    """Return text as a quoted HCL string, with template sequences (${, %{) escaped.

    Characters that do not print, such as control characters, line and
    paragraph separators and bidirectional overrides, are written as
    \\u escapes, so they are visible in review and no tool reads them as line breaks.
    """
    out = []
    for char in str(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif not char.isprintable() and char != " ":
            code = ord(char)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    body = "".join(out).replace("${", "$${").replace("%{", "%%{")
    return f'"{body}"'


def hcl_value(value: Any) -> str:
    """Return a scalar or a list of scalars as an HCL literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(hcl_value(item) for item in value) + "]"
    if value is None:
        return "null"
    return hcl_string(value)


def hcl_map_lines(mapping: dict[str, Any], indent: int) -> str:
    """Return `"key" = value` lines with the equals signs aligned as terraform fmt does."""
    if not mapping:
        return ""
    keys = [hcl_string(key) for key in mapping]
    width = max(len(key) for key in keys)
    pad = " " * indent
    lines = [f"{pad}{key.ljust(width)} = {hcl_value(value)}" for key, value in zip(keys, mapping.values())]
    return "\n".join(lines)
