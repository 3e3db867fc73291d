"""Validate a spec against the JSON Schema and the rules a schema cannot express.

Every problem is reported at once, one line each, as
`file:line:column: json.path: message`. The rules a schema cannot express run
alongside the schema, but each rule's findings are dropped when a value the
rule read has a schema error, so no rule reasons from a value already reported
as invalid.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from pathlib import Path
from typing import Any

import jsonschema

from tfscaffold.errors import INSTALL_HINT, SpecError, TfscaffoldError
from tfscaffold.migrations import migrate_loaded
from tfscaffold.rules import SEMANTIC_CHECKS, Problem
from tfscaffold.messages import describe
from tfscaffold.spec import JsonPath, LoadedSpec, dotted_path, load_spec_file

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "service.schema.json"



@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Return the service spec JSON Schema; raise TfscaffoldError when the repository files are missing."""
    if not SCHEMA_PATH.is_file():
        raise TfscaffoldError(f"schema not found at {SCHEMA_PATH}; {INSTALL_HINT}")
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


def validate_loaded(loaded: LoadedSpec, extra_problems: list[Problem] | None = None) -> dict[str, Any]:
    """Migrate a loaded spec to the current version, validate it and return it with defaults filled in.

    extra_problems are findings of an earlier step, such as reading a
    cookiecutter context; they are reported with the rest. Raises SpecError
    listing every problem, sorted by position.
    """
    loaded = migrate_loaded(loaded)
    data = copy.deepcopy(loaded.data)
    problems: list[tuple[JsonPath, str, bool]] = [(path, message, False) for path, message in extra_problems or []]
    problems += [(path, message, False) for path, message in normalise_scalars(data, load_schema(), (), loaded)]
    errors = _schema_errors(data)
    # A value of the wrong type fails its other keywords too; only the type error helps.
    wrong_type = {tuple(error.absolute_path) for error in errors if error.validator == "type"}
    for error in errors:
        if error.validator == "type" or tuple(error.absolute_path) not in wrong_type:
            problems.extend(describe(error, loaded))

    invalid = [path for path, _, _ in problems]
    problems += [(path, message, False) for path, message in _safe_semantic_problems(data, invalid)]
    if problems:
        raise SpecError(_format_problems(problems, loaded), loaded.source)
    return apply_defaults(data)


def _format_problems(problems: list[tuple[JsonPath, str, bool]], loaded: LoadedSpec) -> list[str]:
    def order(item: tuple[JsonPath, str, bool]) -> tuple[Any, ...]:
        position = loaded.position(item[0], key=item[2]) or (0, 0)
        return position, dotted_path(item[0])

    lines = []
    for path, message, key in sorted(problems, key=order):
        line = f"{loaded.where(path, key=key)}: {dotted_path(path)}: {message}"
        if line not in lines:
            lines.append(line)
    return lines


def _schema_errors(data: Any) -> list[jsonschema.ValidationError]:
    errors = []
    for error in _validator().iter_errors(data):
        errors.extend(_leaf_errors(error))
    return errors


def _leaf_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """Return the deepest errors, so an allOf or anyOf reports the failing value itself."""
    if error.context and error.validator in ("allOf", "anyOf", "oneOf"):
        return [leaf for child in error.context for leaf in _leaf_errors(child)]
    return [error]


def normalise_scalars(data: Any, schema: dict[str, Any], path: JsonPath, loaded: LoadedSpec) -> list[Problem]:
    """Undo YAML 1.1's surprises in place; return the values that must be rejected instead.

    An unquoted scalar where the schema wants a string is read as the text
    written (`15.10` stays "15.10", `no` stays "no"). A whole float where an
    integer is wanted becomes an int. Numbers YAML 1.1 reads in a way few
    people expect (`010` is 8, `1:30` is 90) are rejected with a hint.
    """
    problems: list[Problem] = []
    for key, child_schema in _children(data, schema):
        child = path + (key,)
        value = data[key]
        typed = loaded.typed_text(child)
        if _wants_string(child_schema) and not isinstance(value, str) and typed is not None:
            data[key] = typed
            log.debug("read %s as the string %r", dotted_path(child), typed)
        elif _wants_integer(child_schema) and isinstance(value, float) and value.is_integer():
            data[key] = int(value)
        if typed is not None and isinstance(data[key], (int, float)) and not isinstance(value, bool):
            problems.extend(_surprising_number(child, typed, value))
        problems.extend(normalise_scalars(data[key], child_schema, child, loaded))
    return problems


def _children(data: Any, schema: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    if isinstance(data, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        fallback = extra if isinstance(extra, dict) else {}
        return [(key, properties.get(key, fallback)) for key in data]
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [(index, schema["items"]) for index in range(len(data))]
    return []


def _wants_string(schema: dict[str, Any]) -> bool:
    values = schema.get("enum")
    return schema.get("type") == "string" or (bool(values) and all(isinstance(item, str) for item in values))


def _wants_integer(schema: dict[str, Any]) -> bool:
    values = schema.get("enum")
    whole = bool(values) and all(isinstance(item, int) and not isinstance(item, bool) for item in values)
    return schema.get("type") == "integer" or whole


def _surprising_number(path: JsonPath, text: str, value: int | float) -> list[Problem]:
    digits = text.lstrip("+-")
    if ":" in digits:
        return [(path, f"invalid value {text}: YAML 1.1 reads it as the base-60 number {value}; "
                       "write the number in decimal, or quote it if it is text")]
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        return [(path, f"invalid value {text}: YAML 1.1 reads a leading 0 as octal, giving {value}; "
                       "remove the leading zeros")]
    return []


def apply_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a spec with every schema default filled in.

    Values of the wrong type are left as they are, so this also serves specs
    with schema errors.
    """
    result = copy.deepcopy(data)
    _fill_defaults(result, load_schema())
    blue_green = result.get("blue_green")
    live = blue_green.get("live") if isinstance(blue_green, dict) else None
    if live in ("blue", "green") and blue_green.get("weights") is None:
        blue_green["weights"] = {"blue": 100 if live == "blue" else 0, "green": 100 if live == "green" else 0}
    service = result.get("service")
    if isinstance(service, dict) and isinstance(service.get("name"), str):
        result.setdefault("project_slug", f"{service['name']}-{service.get('environment_suffix')}")
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
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "object":
            for key in data.keys() - schema.get("properties", {}).keys():
                _fill_defaults(data[key], extra)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for item in data:
            _fill_defaults(item, schema["items"])


def _safe_semantic_problems(data: dict[str, Any], invalid: list[JsonPath]) -> list[Problem]:
    """Run each semantic check on the defaulted spec, keeping only findings from valid values.

    A check whose reads touch an invalid path, or that fails on a value of the
    wrong type, reports nothing: its input was already reported.
    """
    full = apply_defaults(data)
    problems: list[Problem] = []
    for check in SEMANTIC_CHECKS:
        view, reads = tracked(full)
        try:
            found = check(view)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as error:
            log.debug("skipped %s on an invalid spec: %r", check.__name__, error)
            continue
        if any(overlaps(read, bad) for read in reads for bad in invalid):
            log.debug("skipped %s: it read an invalid value", check.__name__)
            continue
        problems.extend(found)
    return problems


def tracked(data: Any) -> tuple[Any, set[JsonPath]]:
    """Return a view of data that records the path of every scalar value read, and that record."""
    reads: set[JsonPath] = set()
    return _track(data, (), reads), reads


def _track(value: Any, path: JsonPath, reads: set[JsonPath]) -> Any:
    if isinstance(value, dict):
        return _TrackedDict(value, path, reads)
    if isinstance(value, list):
        return _TrackedList(value, path, reads)
    return value


def _read(value: Any, path: JsonPath, reads: set[JsonPath]) -> Any:
    # Only values count as reads: reading through a container must not make
    # an error elsewhere in that container hide a check's findings.
    if not isinstance(value, (dict, list)):
        reads.add(path)
    return _track(value, path, reads)


class _TrackedDict(dict):
    def __init__(self, data: dict[Any, Any], path: JsonPath, reads: set[JsonPath]) -> None:
        super().__init__(data)
        self._path, self._reads = path, reads

    def __getitem__(self, key: Any) -> Any:
        return _read(super().__getitem__(key), self._path + (key,), self._reads)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default


class _TrackedList(list):
    def __init__(self, data: list[Any], path: JsonPath, reads: set[JsonPath]) -> None:
        super().__init__(data)
        self._path, self._reads = path, reads

    def __getitem__(self, index: Any) -> Any:
        return _read(super().__getitem__(index), self._path + (index,), self._reads)

    def __iter__(self) -> Any:
        return (self[index] for index in range(len(self)))


def overlaps(first: JsonPath, second: JsonPath) -> bool:
    """Tell whether one path is the other or contains it."""
    length = min(len(first), len(second))
    return tuple(first[:length]) == tuple(second[:length])
