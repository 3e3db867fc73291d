"""Validate a spec against the JSON Schema and the rules a schema cannot express."""

from __future__ import annotations

import copy
import difflib
import functools
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import jsonschema

from tfscaffold.errors import SpecError
from tfscaffold.spec import JsonPath, LoadedSpec, dotted_path, load_spec_file

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "service.schema.json"


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Return the service spec JSON Schema."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_file(path: str | Path) -> dict[str, Any]:
    """Load, validate and complete a spec file; raise SpecError listing every problem."""
    return validate_loaded(load_spec_file(path))


def validate_loaded(loaded: LoadedSpec) -> dict[str, Any]:
    """Validate a loaded spec and return it with defaults filled in."""
    data = copy.deepcopy(loaded.data)
    _keep_plain_scalars_as_strings(data, load_schema(), (), loaded)
    problems = [_format_schema_error(error, loaded) for error in _schema_errors(data)]
    if not problems:
        data = apply_defaults(data)
        problems = [f"{loaded.where(path)}: {dotted_path(path)}: {message}" for path, message in semantic_problems(data)]
    if problems:
        raise SpecError(problems, loaded.source)
    return data


def _schema_errors(data: Any) -> list[jsonschema.ValidationError]:
    errors = []
    for error in _validator().iter_errors(data):
        errors.extend(_leaf_errors(error))
    return sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])


def _leaf_errors(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """Yield the deepest errors, so an if/then or allOf reports the failing value itself."""
    if error.context and error.validator in ("allOf", "anyOf", "oneOf", "if", "then"):
        for child in error.context:
            yield from _leaf_errors(child)
    else:
        yield error


def _keep_plain_scalars_as_strings(data: Any, schema: dict[str, Any], path: JsonPath, loaded: LoadedSpec) -> None:
    """Read an unquoted YAML scalar as the text written where the schema wants a string.

    YAML 1.1 turns `15.10` into the float 15.1 and `no` into False; for a string
    field the user meant the characters they typed.
    """
    if isinstance(data, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in list(data):
            sub = properties.get(key, extra if isinstance(extra, dict) else {})
            _coerce_child(data, key, sub, path + (key,), loaded)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for index in range(len(data)):
            _coerce_child(data, index, schema["items"], path + (index,), loaded)


def _coerce_child(container: Any, key: Any, schema: dict[str, Any], path: JsonPath, loaded: LoadedSpec) -> None:
    value = container[key]
    if schema.get("type") == "string" and not isinstance(value, str) and path in loaded.plain_scalars:
        container[key] = loaded.plain_scalars[path]
        log.debug("read %s as the string %r", dotted_path(path), container[key])
    else:
        _keep_plain_scalars_as_strings(value, schema, path, loaded)


def _format_schema_error(error: jsonschema.ValidationError, loaded: LoadedSpec) -> str:
    path = tuple(error.absolute_path)
    return f"{loaded.where(path)}: {dotted_path(path)}: {_describe(error)}"


def _describe(error: jsonschema.ValidationError) -> str:
    keyword, expected, value = error.validator, error.validator_value, error.instance
    shown = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if keyword == "additionalProperties":
        return _describe_unknown_keys(error)
    if keyword == "required":
        return error.message.replace("is a required property", "is required but missing")
    if keyword == "enum":
        hint = _near_miss(value, expected)
        allowed = ", ".join(json.dumps(item) for item in expected)
        return f"invalid value {shown}; expected one of: {allowed}{hint}"
    if keyword == "const":
        return f"invalid value {shown}; expected {json.dumps(expected)}"
    if keyword == "type":
        return f"invalid value {shown}; expected {_type_words(expected)}{_quote_hint(value, expected)}"
    if keyword == "pattern":
        description = error.schema.get("description", f"text matching {expected}")
        return f"invalid value {shown}; expected {description[0].lower() + description[1:]}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than", "exclusiveMaximum": "less than"}
        return f"invalid value {shown}; expected a number {words[keyword]} {expected}"
    if keyword in ("minLength", "maxLength"):
        words = "at least" if keyword == "minLength" else "at most"
        return f"invalid value {shown} ({len(value)} characters); expected {words} {expected} characters"
    if keyword in ("minItems", "maxItems", "maxProperties"):
        words = "at least" if keyword == "minItems" else "at most"
        return f"has {len(value)} entries; expected {words} {expected}"
    return f"invalid value {shown}: {error.message}"


def _describe_unknown_keys(error: jsonschema.ValidationError) -> str:
    known = list(error.schema.get("properties", {}))
    unknown = [key for key in error.instance if key not in known]
    parts = []
    for key in unknown:
        match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        parts.append(f"{key!r} (did you mean {match[0]!r}?)" if match else repr(key))
    return f"unknown key {', '.join(parts)}; allowed keys: {', '.join(known)}"


def _near_miss(value: Any, allowed: list[Any]) -> str:
    if not isinstance(value, str):
        return ""
    match = difflib.get_close_matches(value.lower(), [str(item) for item in allowed], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _type_words(expected: Any) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
             "object": "a mapping", "array": "a list"}
    kinds = expected if isinstance(expected, list) else [expected]
    return " or ".join(names.get(kind, kind) for kind in kinds)


def _quote_hint(value: Any, expected: Any) -> str:
    if expected == "string" and isinstance(value, (bool, int, float)):
        return "; quote the value in YAML"
    return ""


def apply_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a schema-valid spec with every schema default filled in."""
    result = copy.deepcopy(data)
    _fill_defaults(result, load_schema())
    weights = result["blue_green"].get("weights")
    if weights is None:
        live = result["blue_green"]["live"]
        result["blue_green"]["weights"] = {"blue": 100 if live == "blue" else 0, "green": 100 if live == "green" else 0}
    result.setdefault("project_slug", f"{result['service']['name']}-{result['service']['environment_suffix']}")
    return result


def _fill_defaults(data: Any, schema: dict[str, Any]) -> None:
    if isinstance(data, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            elif key not in data and sub.get("type") == "object" and "required" not in sub:
                data[key] = {}
            if key in data:
                _fill_defaults(data[key], sub)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for item in data:
            _fill_defaults(item, schema["items"])


def semantic_problems(spec: dict[str, Any]) -> list[tuple[JsonPath, str]]:
    """List the problems of a defaulted spec that JSON Schema cannot express."""
    from tfscaffold.naming import name_problems
    from tfscaffold.profiles import profile_problems

    problems: list[tuple[JsonPath, str]] = []
    weights = spec["blue_green"]["weights"]
    if weights["blue"] + weights["green"] != 100:
        problems.append((("blue_green", "weights"),
                         f"blue {weights['blue']} + green {weights['green']} = {weights['blue'] + weights['green']}; "
                         "the weights must sum to 100"))
    live = spec["blue_green"]["live"]
    if weights[live] == 0:
        problems.append((("blue_green", "live"), f"live colour {live!r} has weight 0; give it traffic or switch live"))
    scaling = spec["autoscaling"]
    if scaling["min_capacity"] > scaling["max_capacity"]:
        problems.append((("autoscaling", "min_capacity"),
                         f"min_capacity {scaling['min_capacity']} is greater than max_capacity {scaling['max_capacity']}"))
    problems.extend(_secret_problems(spec["secrets"]))
    problems.extend(name_problems(spec))
    problems.extend(profile_problems(spec))
    return problems


def _secret_problems(secrets: list[dict[str, Any]]) -> list[tuple[JsonPath, str]]:
    problems = []
    seen: dict[str, int] = {}
    for index, secret in enumerate(secrets):
        variable = secret["name"].upper().replace("-", "_")
        if variable in seen:
            problems.append((("secrets", index, "name"),
                             f"{secret['name']!r} gives the variable {variable}, as secrets[{seen[variable]}] does; rename one"))
        seen.setdefault(variable, index)
    return problems
