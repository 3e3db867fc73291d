"""Derive every AWS resource name from the spec, within AWS's length limits.

Names are `<service>-<suffix>[-<role>]`. When that is too long, the service
part is cut and followed by four hex digits of a hash of the full name, so a
shortened name stays deterministic and unique while the environment suffix
and the role remain readable.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tfscaffold.spec import JsonPath

# Maximum lengths, from the AWS API reference of each resource type.
LIMITS = {
    "alb": 32,
    "target_group": 32,
    "iam_role": 64,
    "rds_cluster": 63,
    "db_cluster_snapshot": 255,
    "ecs": 255,
    "security_group": 255,
    "log_group": 512,
}

HASH_LENGTH = 4

# Name prefixes AWS rejects: ELBv2 CreateLoadBalancer rejects load balancer
# names that start with "internal-", and EC2 CreateSecurityGroup rejects group
# names that start with "sg-". Every derived name starts with the service name.
RESERVED_PREFIXES = (
    ("alb", "load balancer", "internal-"),
    ("sg_alb", "security group", "sg-"),
)


def fit_name(service: str, suffix: str, role: str, limit: int) -> str:
    """Join service, suffix and role with hyphens, shortening the service part to fit limit."""
    tail = "-".join(part for part in (suffix, role) if part)
    full = f"{service}-{tail}"
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:HASH_LENGTH]
    room = limit - len(tail) - len(digest) - 2
    if room < 1:
        raise ValueError(f"{tail!r} leaves no room for the service name within {limit} characters")
    head = service[:room].rstrip("-")
    return f"{head}-{digest}-{tail}"


def target_group_role(colour: str, spec: dict[str, Any]) -> str:
    """Return the role part of a target group name.

    A change of port or protocol forces a new target group. A digest of both in
    the name lets create_before_destroy build the new group beside the old one.
    """
    digest = hashlib.sha256(f"HTTP:{spec['container']['port']}".encode()).hexdigest()[:HASH_LENGTH]
    return f"{colour}-{digest}"


def final_snapshot_role(spec: dict[str, Any]) -> str:
    """Return the role part of the final snapshot identifier.

    The identifier is fixed by service, environment and suffix, so it is the
    same on every plan. The environment is left out when the suffix already
    starts with it, as in `payment-service-prod-final` for suffix `prod`.
    """
    environment = spec["service"]["environment"]
    suffix = spec["service"]["environment_suffix"]
    if suffix == environment or suffix.startswith(f"{environment}-"):
        return "final"
    return f"{environment}-final"


def derive_names(spec: dict[str, Any]) -> dict[str, str]:
    """Return the name of every named resource for a defaulted spec."""
    service = spec["service"]["name"]
    suffix = spec["service"]["environment_suffix"]

    def name(role: str, kind: str) -> str:
        return fit_name(service, suffix, role, LIMITS[kind])

    prefix = name("", "ecs")
    return {
        "prefix": prefix,
        "cluster": prefix,
        "alb": name("", "alb"),
        "target_group_blue": name(target_group_role("blue", spec), "target_group"),
        "target_group_green": name(target_group_role("green", spec), "target_group"),
        "service_blue": name("blue", "ecs"),
        "service_green": name("green", "ecs"),
        "task_family_blue": name("blue", "ecs"),
        "task_family_green": name("green", "ecs"),
        "execution_role": name("execution", "iam_role"),
        "task_role": name("task", "iam_role"),
        "flow_log_role": name("flow-logs", "iam_role"),
        "monitoring_role": name("rds-monitoring", "iam_role"),
        "aurora_cluster": name("", "rds_cluster"),
        "final_snapshot": name(final_snapshot_role(spec), "db_cluster_snapshot"),
        "db_subnet_group": prefix,
        "sg_alb": name("alb", "security_group"),
        "sg_tasks": name("tasks", "security_group"),
        "sg_db": name("db", "security_group"),
        "kms_alias": f"alias/{prefix}",
        "log_group": f"/ecs/{prefix}",
        "flow_log_group": f"/vpc/{prefix}/flow-logs",
        "parameter_path": f"/{service}/{suffix}",
    }


def name_problems(spec: dict[str, Any]) -> list[tuple[JsonPath, str]]:
    """Report a suffix so long that no shortened name could fit, and names with a prefix AWS rejects."""
    try:
        names = derive_names(spec)
    except ValueError as error:
        return [(("service", "environment_suffix"), f"{error}; use a shorter environment_suffix")]
    problems: list[tuple[JsonPath, str]] = []
    for key, kind, prefix in RESERVED_PREFIXES:
        if names[key].startswith(prefix):
            problems.append((("service", "name"),
                             f"gives the {kind} name {names[key]!r}, which AWS rejects because it starts with "
                             f"{prefix!r}; choose a service name that does not start with {prefix!r}"))
    return problems
