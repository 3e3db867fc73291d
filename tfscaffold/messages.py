"""Word JSON Schema errors for people: the bad value, what was expected and a likely fix.

Patterns are described by the schema's own `x-pattern-description`
annotation, because few users can act on a regular expression.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import jsonschema

from tfscaffold.spec import JsonPath, LoadedSpec

# One described problem: the path it is about, the message, and whether the
# position to report is the key's (unknown and misnamed keys) or the value's.
Described = tuple[JsonPath, str, bool]

MAX_SHOWN_CHARS = 60
PATTERN_DESCRIPTION = "x-pattern-description"

_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}
_BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off"}
_NUMBER_TEXT = re.compile(r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*$")


def describe(error: jsonschema.ValidationError, loaded: LoadedSpec) -> list[Described]:
    """Return one (path, message, is_key) entry per problem that a schema error stands for."""
    path = tuple(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties":
        return _unknown_keys(error, path)
    if keyword == "required":
        return _missing_keys(error, path)
    if "propertyNames" in error.relative_schema_path:
        return [(path + (error.instance,), _invalid_key(error), True)]
    return [(path, _describe_value(error, path, loaded), False)]


def _describe_value(error: jsonschema.ValidationError, path: JsonPath, loaded: LoadedSpec) -> str:
    keyword, expected, value = error.validator, error.validator_value, error.instance
    shown = show_value(value, loaded.typed_text(path))
    if keyword == "enum":
        condition = _condition_words(error)
        allowed = ", ".join(_show_plain(item) for item in expected)
        return f"invalid value {shown}; {condition}expected one of: {allowed}{_near_miss(value, expected)}"
    if keyword == "const":
        return f"invalid value {shown}; expected {_show_plain(expected)}"
    if keyword == "type":
        return f"invalid value {shown}; expected {_type_words(expected)}{_type_hint(value, expected)}"
    if keyword == "pattern":
        return f"invalid value {shown}; expected {pattern_words(error.schema)}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"invalid value {shown}; expected {range_words(error.schema)}"
    if keyword in ("minLength", "maxLength"):
        return f"invalid value {shown} ({len(value)} characters); expected {_length_words(error.schema)}"
    if keyword in ("minItems", "maxItems", "maxProperties", "minProperties"):
        return f"has {len(value)} entries; expected {_count_words(error.schema, keyword)}"
    if keyword == "uniqueItems":
        repeated = sorted({_show_plain(item) for item in value if value.count(item) > 1})
        return f"lists {', '.join(repeated)} more than once; remove the repeats"
    return f"invalid value {shown}: {error.message}"


def _unknown_keys(error: jsonschema.ValidationError, path: JsonPath) -> list[Described]:
    known = list(error.schema.get("properties", {}))
    described = []
    for key in error.instance:
        if key in known:
            continue
        match = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean {_show_plain(match[0])}?)" if match else ""
        described.append((path + (key,), f"unknown key{hint}; allowed keys: {', '.join(known)}", True))
    return described


def _missing_keys(error: jsonschema.ValidationError, path: JsonPath) -> list[Described]:
    if not isinstance(error.instance, dict):
        return []
    present = [str(key) for key in error.instance]
    described = []
    for key in error.validator_value:
        if key in error.instance:
            continue
        match = difflib.get_close_matches(key, present, n=1, cutoff=0.6)
        hint = f"; is {_show_plain(match[0])} a misspelling of it?" if match else ""
        described.append((path + (key,), f"required key is missing{hint}", False))
    return described


def _invalid_key(error: jsonschema.ValidationError) -> str:
    shown = show_value(error.instance, None)
    if error.validator == "pattern":
        return f"invalid key {shown}; expected {pattern_words(error.schema)}"
    return f"invalid key {shown}: {error.message}"


def pattern_words(schema: dict[str, Any]) -> str:
    """Return the human description of a schema's pattern, or the pattern itself as a fallback."""
    return schema.get(PATTERN_DESCRIPTION) or f"text matching the regular expression {schema['pattern']}"


def range_words(schema: dict[str, Any]) -> str:
    """Describe a schema's numeric bounds, such as `a whole number from 1 to 65535`."""
    noun = _TYPE_WORDS["integer"] if schema.get("type") == "integer" else _TYPE_WORDS["number"]
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    parts = []
    if low is not None:
        parts.append(f"at least {low}")
    if "exclusiveMinimum" in schema:
        parts.append(f"greater than {schema['exclusiveMinimum']}")
    if high is not None:
        parts.append(f"at most {high}")
    if "exclusiveMaximum" in schema:
        parts.append(f"less than {schema['exclusiveMaximum']}")
    return f"{noun} {' and '.join(parts)}"


def _length_words(schema: dict[str, Any]) -> str:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and high is not None:
        return f"{low} to {high} characters"
    if high is not None:
        return f"at most {high} characters"
    return f"at least {low} character{'s' if low != 1 else ''}"


def _count_words(schema: dict[str, Any], keyword: str) -> str:
    limit = schema[keyword]
    return f"{'at most' if keyword.startswith('max') else 'at least'} {limit}"


def _condition_words(error: jsonschema.ValidationError) -> str:
    """Name the if/then condition that chose the allowed values, such as `with cpu 512, `."""
    schema_path = list(error.absolute_schema_path)
    if "then" not in schema_path:
        return ""
    branch = _schema_at(schema_path[: len(schema_path) - 1 - schema_path[::-1].index("then")])
    words = [f"{name} {_show_plain(rule['const'])}"
             for name, rule in branch.get("if", {}).get("properties", {}).items() if "const" in rule]
    return f"with {' and '.join(words)}, " if words else ""


def _schema_at(schema_path: list[Any]) -> dict[str, Any]:
    from tfscaffold.validation import load_schema

    node: Any = load_schema()
    for part in schema_path:
        node = node[part]
    return node


def _near_miss(value: Any, allowed: list[Any]) -> str:
    if isinstance(value, str):
        by_text = {str(item).lower(): item for item in allowed}
        match = difflib.get_close_matches(value.lower(), list(by_text), n=1, cutoff=0.6)
        return f" (did you mean {_show_plain(by_text[match[0]])}?)" if match else ""
    numbers = [item for item in allowed if isinstance(item, (int, float)) and not isinstance(item, bool)]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and numbers:
        nearest = min(numbers, key=lambda item: abs(item - value))
        if abs(nearest - value) <= 0.25 * max(abs(nearest), 1):
            return f" (did you mean {nearest}?)"
    return ""


def _type_words(expected: Any) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_WORDS.get(kind, kind) for kind in kinds)


def _type_hint(value: Any, expected: Any) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    if isinstance(value, str) and ("integer" in kinds or "number" in kinds) and _NUMBER_TEXT.match(value):
        return "; remove the quotes"
    if isinstance(value, str) and "boolean" in kinds and value.strip().lower() in _BOOLEAN_WORDS:
        return "; remove the quotes"
    if "string" in kinds and isinstance(value, (bool, int, float)):
        return "; quote the value in YAML"
    if value is None and "object" in kinds:
        return "; indent the keys that belong under it"
    return ""


def show_value(value: Any, typed_text: str | None) -> str:
    """Show a value on one line, as written where YAML 1.1 read it as something else."""
    shown = _show_plain(value)
    if typed_text and typed_text != shown and not isinstance(value, str):
        return f"{typed_text} (YAML reads it as {shown})"
    return shown


def _show_plain(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        text = value if len(value) <= MAX_SHOWN_CHARS else value[: MAX_SHOWN_CHARS - 1] + "…"
        quoted = json.dumps(text, ensure_ascii=False)
        return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in quoted)
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    return str(value)
