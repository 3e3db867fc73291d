"""Build the values the templates render from a validated spec."""

from __future__ import annotations

import re
from typing import Any

from tfscaffold.naming import derive_names
from tfscaffold.profiles import resolve_profile
from tfscaffold.provider_versions import provider_model

ECR_IMAGE = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<name>[^:@]+)"
)


def build_model(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the template model for a validated, defaulted spec."""
    service = spec["service"]
    return {
        "spec": spec,
        "service": service,
        "container": spec["container"],
        "database": spec["database"],
        "autoscaling": spec["autoscaling"],
        "blue_green": spec["blue_green"],
        "logs": spec["logs"],
        "network": spec["network"],
        "load_balancer": spec["load_balancer"],
        "names": derive_names(spec),
        "profile": resolve_profile(spec).settings,
        "secrets": [_secret(item) for item in spec["secrets"]],
        "tags": _tags(spec),
        "https": "certificate_arn" in spec["load_balancer"],
        "ecr_repository": ecr_repository(spec["container"]["image"]),
        "aws_provider": provider_model(spec["terraform"]["aws_provider_version"]),
        "parameter_group": parameter_group(spec),
    }


def parameter_group(spec: dict[str, Any]) -> dict[str, str]:
    """Return the family and name of the Aurora PostgreSQL cluster parameter group for the engine version.

    Families are named by major version (aurora-postgresql15), except 9.6,
    whose family carries both parts. The name carries the family, so a major
    upgrade creates a new group beside the one in use.
    """
    parts = spec["database"]["engine_version"].split(".")
    major = ".".join(parts[:2]) if int(parts[0]) < 10 else parts[0]
    family = f"aurora-postgresql{major}"
    prefix = derive_names(spec)["prefix"]
    return {"family": family, "name": f"{prefix}-pg{major.replace('.', '-')}"}


def ecr_repository(image: str) -> dict[str, str] | None:
    """Return account, region and name of an ECR image's repository, or None for other registries."""
    match = ECR_IMAGE.match(image)
    if not match:
        return None
    return {"account": match["account"], "region": match["region"], "name": match["name"]}


def _secret(item: dict[str, Any]) -> dict[str, str]:
    name = item["name"]
    return {
        "name": name,
        "description": item.get("description", ""),
        "variable": name.upper().replace("-", "_"),
        "resource": name.replace("-", "_"),
    }


def _tags(spec: dict[str, Any]) -> dict[str, str]:
    service = spec["service"]
    tags = {
        "Service": service["name"],
        "Environment": service["environment"],
        "EnvironmentSuffix": service["environment_suffix"],
        "ManagedBy": "terraform",
        "GeneratedBy": "tfscaffold",
    }
    tags.update(spec["tags"])
    return tags
