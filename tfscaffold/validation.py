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
import ipaddress
import json
import logging
import math
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterator

import jsonschema

from tfscaffold.errors import SpecError
from tfscaffold.migrations import migrate_loaded
from tfscaffold.provider_versions import constraint_problems
from tfscaffold.messages import describe
from tfscaffold.spec import JsonPath, LoadedSpec, dotted_path, load_spec_file

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "service.schema.json"

Problem = tuple[JsonPath, str]


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


def semantic_problems(spec: dict[str, Any]) -> list[Problem]:
    """List the problems of a defaulted, schema-valid spec that JSON Schema cannot express."""
    return [problem for check in SEMANTIC_CHECKS for problem in check(spec)]


def _weights_sum(spec: dict[str, Any]) -> list[Problem]:
    weights = spec["blue_green"]["weights"]
    total = weights["blue"] + weights["green"]
    if total == 100:
        return []
    return [(("blue_green", "weights"),
             f"blue {weights['blue']} + green {weights['green']} = {total}; the weights must sum to 100")]


def _live_has_traffic(spec: dict[str, Any]) -> list[Problem]:
    live = spec["blue_green"]["live"]
    if spec["blue_green"]["weights"][live] != 0:
        return []
    return [(("blue_green", "live"), f"live colour {json.dumps(live)} has weight 0; give it traffic or switch live")]


def _capacity_order(spec: dict[str, Any]) -> list[Problem]:
    scaling = spec["autoscaling"]
    if scaling["min_capacity"] <= scaling["max_capacity"]:
        return []
    return [(("autoscaling", "min_capacity"),
             f"min_capacity {scaling['min_capacity']} is greater than max_capacity {scaling['max_capacity']}")]


def _secret_variables(spec: dict[str, Any]) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    for index, secret in enumerate(spec["secrets"]):
        variable = secret["name"].upper().replace("-", "_")
        if variable in seen:
            problems.append((("secrets", index, "name"),
                             f"{json.dumps(secret['name'])} gives the variable {variable}, as secrets[{seen[variable]}] does; "
                             "rename one"))
        seen.setdefault(variable, index)
    return problems


# Variables and parameters the templates define for every task.
RESERVED_VARIABLES = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DEPLOYMENT_COLOUR"}
RESERVED_PARAMETERS = {"db-master-password"}

# Key words PostgreSQL reserves, which cannot name a database unquoted, and
# the databases every Aurora PostgreSQL cluster already has.
RESERVED_DATABASE_NAMES = frozenset("""
    all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create
    current_catalog current_date current_role current_time current_timestamp current_user default deferrable
    desc distinct do else end except false fetch for foreign from grant group having in initially intersect
    into lateral leading limit localtime localtimestamp not null offset on only or order placing primary
    references returning select session_user some symmetric system_user table then to trailing true union
    unique user using variadic when where window with postgres rdsadmin template0 template1
""".split())

BUILTIN_TAGS = ("Service", "Environment", "EnvironmentSuffix", "ManagedBy", "GeneratedBy")


def _reserved_secret_names(spec: dict[str, Any]) -> list[Problem]:
    problems = []
    for index, secret in enumerate(spec["secrets"]):
        name = secret["name"]
        variable = name.upper().replace("-", "_")
        if name in RESERVED_PARAMETERS:
            problems.append((("secrets", index, "name"),
                             f"invalid value {json.dumps(name)}: the templates already create the parameter "
                             f"{name}; choose another name"))
        elif variable in RESERVED_VARIABLES:
            problems.append((("secrets", index, "name"),
                             f"invalid value {json.dumps(name)}: the templates already set the variable "
                             f"{variable}; choose another name"))
    return problems


def _database_name(spec: dict[str, Any]) -> list[Problem]:
    name = spec["database"]["name"]
    if name.lower() not in RESERVED_DATABASE_NAMES:
        return []
    return [(("database", "name"), f"invalid value {json.dumps(name)}: PostgreSQL reserves this name; "
                                   "choose another, for example app")]


def _certificate_region(spec: dict[str, Any]) -> list[Problem]:
    arn = spec["load_balancer"].get("certificate_arn")
    region = spec["service"]["region"]
    if not arn or arn.split(":")[3] == region:
        return []
    return [(("load_balancer", "certificate_arn"),
             f"the certificate is in {arn.split(':')[3]}, but the load balancer is in {region}; "
             f"an ALB can only use an ACM certificate of its own region")]


def _parameter_prefix(spec: dict[str, Any]) -> list[Problem]:
    name = spec["service"]["name"]
    if not name.lower().startswith(("aws", "ssm")):
        return []
    return [(("service", "name"), f"invalid value {json.dumps(name)}: SSM rejects parameter names under "
                                  f"/{name[:3]}, which this name would give; choose a name that does not start "
                                  "with aws or ssm")]


def _builtin_tags(spec: dict[str, Any]) -> list[Problem]:
    builtin = {key.lower(): key for key in BUILTIN_TAGS}
    return [(("tags", key), f"tag {json.dumps(key)} is set by tfscaffold as {builtin[key.lower()]}; remove it")
            for key in spec["tags"] if key.lower() in builtin]


def _finite_numbers(spec: dict[str, Any]) -> list[Problem]:
    problems = []
    for path, value in _numbers(spec, ()):
        if not math.isfinite(value):
            problems.append((path, f"invalid value {value}; expected a finite number"))
    return problems


def _numbers(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, float]]:
    if isinstance(value, float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, path + (index,))


def _cidr_problem(text: str) -> str | None:
    try:
        ipaddress.IPv4Network(text)
    except ValueError as error:
        try:
            network = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            return f"invalid CIDR block {json.dumps(text)}: {error}"
        return f"invalid CIDR block {json.dumps(text)}: the address has host bits set; use {json.dumps(str(network))}"
    return None


def _cidr_blocks(spec: dict[str, Any]) -> list[Problem]:
    problems = []
    vpc = _cidr_problem(spec["network"]["vpc_cidr"])
    if vpc:
        problems.append((("network", "vpc_cidr"), vpc))
    for index, block in enumerate(spec["load_balancer"]["ingress_cidrs"]):
        problem = _cidr_problem(block)
        if problem:
            problems.append((("load_balancer", "ingress_cidrs", index), problem))
    return problems


def _resource_names(spec: dict[str, Any]) -> list[Problem]:
    from tfscaffold.naming import name_problems

    return name_problems(spec)


def _unicode_nfc(spec: dict[str, Any]) -> list[Problem]:
    """Report text that Terraform would change: it normalises every string to Unicode NFC."""
    problems = []
    for path, text in _strings(spec, ()):
        if unicodedata.normalize("NFC", text) != text:
            problems.append((path, f"invalid value {json.dumps(text)}: Terraform stores text in Unicode NFC form, "
                                   f"which would change it to {json.dumps(unicodedata.normalize('NFC', text))}; "
                                   "write it in NFC form"))
    return problems


def _strings(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, path + (key,))
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def _profile_overrides(spec: dict[str, Any]) -> list[Problem]:
    from tfscaffold.profiles import profile_problems

    return profile_problems(spec)


def _provider_constraint(spec: dict[str, Any]) -> list[Problem]:
    constraint = spec["terraform"]["aws_provider_version"]
    return [(("terraform", "aws_provider_version"), problem) for problem in constraint_problems(constraint)]


SEMANTIC_CHECKS: list[Callable[[dict[str, Any]], list[Problem]]] = [
    _weights_sum,
    _live_has_traffic,
    _capacity_order,
    _secret_variables,
    _cidr_blocks,
    _resource_names,
    _provider_constraint,
    _unicode_nfc,
    _reserved_secret_names,
    _database_name,
    _certificate_region,
    _parameter_prefix,
    _builtin_tags,
    _finite_numbers,
    _profile_overrides,
]
