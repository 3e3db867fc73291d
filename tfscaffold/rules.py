"""Rules a spec must follow that JSON Schema cannot express.

Each rule takes a defaulted, schema-valid spec and returns its problems as
(JSON path, message) pairs. Most guard against values the schema accepts but
AWS, PostgreSQL or Terraform would reject or change at apply time.
"""

from __future__ import annotations

import ipaddress
import json
import math
import unicodedata
from typing import Any, Callable, Iterator

from tfscaffold.provider_versions import constraint_problems
from tfscaffold.spec import JsonPath

Problem = tuple[JsonPath, str]


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
