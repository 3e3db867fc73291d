"""Translate between a spec and the flat cookiecutter context.

Every scalar leaf of the spec becomes one context variable named by its path
joined with underscores (`container.port` is `container_port`), so that
cookiecutter can prompt for it. Lists of strings become comma-separated text,
secrets a mapping of name to description, and tags stay a mapping.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tfscaffold.errors import SpecError
from tfscaffold.migrations import CURRENT_SPEC_VERSION
from tfscaffold.validation import apply_defaults, load_schema

INTEGER = re.compile(r"^[+-]?[0-9]+$")
NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$")
TRUE_WORDS = {"1", "true", "t", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off"}


@dataclass(frozen=True)
class Field:
    """One context variable and the spec path it maps to."""

    key: str
    path: tuple[str, ...]
    schema: dict[str, Any]


def context_fields() -> list[Field]:
    """List the context variables in prompt order, derived from the schema."""
    fields: list[Field] = []
    for key, schema in load_schema()["properties"].items():
        fields.extend(_fields_under((key,), schema))
    return fields


def _fields_under(path: tuple[str, ...], schema: dict[str, Any]) -> Iterator[Field]:
    if schema.get("type") == "object" and "properties" in schema and path[-1] != "tags":
        for key, sub in schema["properties"].items():
            yield from _fields_under(path + (key,), sub)
    else:
        yield Field("_".join(path), path, schema)


def spec_to_context(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the cookiecutter context for a validated spec (defaults filled in)."""
    full = apply_defaults(spec)
    context: dict[str, Any] = {}
    for field in context_fields():
        value = _get(full, field.path)
        context[field.key] = _to_context_value(field, value)
    return context


def context_to_spec(context: dict[str, Any]) -> dict[str, Any]:
    """Return the spec a cookiecutter context describes; raise SpecError on bad values."""
    spec, problems = read_context(context)
    if problems:
        lines = [f"cookiecutter variable {_variable(path)}: {message}" for path, message in problems]
        raise SpecError(lines, "cookiecutter context")
    return spec


def read_context(context: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], str]]]:
    """Return the spec a cookiecutter context describes and the values that could not be read.

    A value that cannot be read is left out of the spec and reported as
    (spec path, message), so the caller can report it with the schema's
    findings on the rest.
    """
    spec: dict[str, Any] = {}
    problems: list[tuple[tuple[str, ...], str]] = []
    for field in context_fields():
        if field.key not in context:
            continue
        try:
            value = _from_context_value(field, context[field.key])
        except (ValueError, TypeError) as error:
            problems.append((field.path, str(error)))
            continue
        if value is not None:
            _set(spec, field.path, value)
    spec.setdefault("spec_version", CURRENT_SPEC_VERSION)
    return spec, problems


def _variable(path: tuple[str, ...]) -> str:
    return "_".join(path)


def _to_context_value(field: Field, value: Any) -> Any:
    if field.key == "secrets":
        return {item["name"]: item.get("description", "") for item in value}
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, (bool, dict)):
        return copy.deepcopy(value)
    return str(value)


def _from_context_value(field: Field, value: Any) -> Any:
    kind = field.schema.get("type")
    if field.key == "secrets":
        return _secrets_from_context(value)
    if kind == "object":
        return _mapping_from_context(value)
    if kind == "array":
        return [part.strip() for part in str(value).split(",") if part.strip()] if value != "" else None
    if value == "" and "default" not in field.schema:
        return None
    if kind == "boolean" or isinstance(value, bool):
        return _to_bool(value)
    if kind == "integer" or _is_integer_enum(field.schema):
        return _to_int(value)
    if kind == "number":
        return _to_number(value)
    return value


def _mapping_from_context(value: Any) -> Any:
    """Read a mapping variable, given on the command line as JSON text such as {"Team": "orders"}."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value) if value.strip() else {}
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON ({error.msg}); expected a mapping such as {{\"Team\": \"orders\"}}") from None


def _secrets_from_context(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as error:
            raise ValueError(f"invalid JSON ({error.msg}); expected a mapping of secret name to description") from None
    if not isinstance(value, dict):
        raise ValueError(f"invalid value {_shown(value)}; expected a mapping of secret name to description")
    secrets = []
    for name, description in value.items():
        item = {"name": name}
        if description:
            item["description"] = description
        secrets.append(item)
    return secrets


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _is_integer_enum(schema: dict[str, Any]) -> bool:
    values = schema.get("enum", [])
    return bool(values) and all(isinstance(item, int) and not isinstance(item, bool) for item in values)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"invalid value {_shown(value)}; expected yes or no (true/false, 1/0)")


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and INTEGER.match(value.strip()):
        return int(value)
    raise ValueError(f"invalid value {_shown(value)}; expected a whole number")


def _to_number(value: Any) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if INTEGER.match(text):
        return int(text)
    if NUMBER.match(text):
        return float(text)
    raise ValueError(f"invalid value {_shown(value)}; expected a number")


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def stored_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the spec a project stores: every value, defaults included, in schema order.

    Defaults are written out so that a later release with a different default
    changes no existing project until its spec says so.
    """
    return _schema_order(apply_defaults(spec), load_schema())


def _schema_order(value: Any, schema: dict[str, Any]) -> Any:
    """Return value with mapping keys in the schema's property order, so both paths store the same text."""
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_schema_order(item, schema["items"]) for item in value]
    if not isinstance(value, dict) or "properties" not in schema:
        return value
    properties = schema["properties"]
    ordered = [key for key in properties if key in value] + [key for key in value if key not in properties]
    return {key: _schema_order(value[key], properties.get(key, {})) for key in ordered}








def cookiecutter_json(example: dict[str, Any]) -> dict[str, Any]:
    """Return the content of cookiecutter.json, with the example spec as defaults."""
    context = spec_to_context(example)
    context["blue_green_weights_blue"] = "{{ 100 if cookiecutter.blue_green_live == 'blue' else 0 }}"
    context["blue_green_weights_green"] = "{{ 100 if cookiecutter.blue_green_live == 'green' else 0 }}"
    context["project_slug"] = "{{ cookiecutter.service_name }}-{{ cookiecutter.service_environment_suffix }}"
    for field in context_fields():
        if "enum" in field.schema and field.schema.get("type") != "array":
            choices = [str(item) for item in field.schema["enum"]]
            current = context[field.key]
            context[field.key] = [current] + [item for item in choices if item != current]
    del context["spec_version"]
    ordered = {key: context[key] for key in _prompt_order(context)}
    ordered["__prompts__"] = _prompts()
    ordered["_extensions"] = ["tfscaffold.jinja.TfscaffoldExtension"]
    ordered["_copy_without_render"] = []
    return ordered


def _prompt_order(context: dict[str, Any]) -> list[str]:
    keys = [key for key in context if key != "project_slug"]
    position = keys.index("service_region") + 1
    return keys[:position] + ["project_slug"] + keys[position:]


def _prompts() -> dict[str, str]:
    prompts = {}
    for field in context_fields():
        description = field.schema.get("x-prompt", field.schema.get("description"))
        if description:
            prompts[field.key] = description
    return prompts


def write_cookiecutter_json(root: Path, example_path: Path) -> None:
    """Regenerate cookiecutter.json in root from the schema and the example spec."""
    from tfscaffold.validation import validate_file

    content = cookiecutter_json(validate_file(example_path))
    (root / "cookiecutter.json").write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
