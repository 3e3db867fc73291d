"""Environment profiles: the protections each environment gets, and explicit overrides.

`service.environment` selects a profile. `test` and `dev` are destroyable:
`terraform destroy` deletes every resource and keeps no snapshot. `staging`
and `prod` are protected. The `protection` section of a spec overrides any one
setting. In `prod`, an override that makes a setting weaker than the profile is
accepted only together with `protection.allow_weaker_prod_protection: true`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfscaffold.naming import derive_names
from tfscaffold.spec import JsonPath

# The key in the `protection` section that confirms weakening the prod profile.
PROD_CONFIRMATION = "allow_weaker_prod_protection"
PROD = "prod"


# The keys of the `protection` section that override a profile setting. For
# every setting, true or the larger number is the stronger protection.
SETTINGS = (
    "deletion_protection",
    "final_snapshot",
    "prevent_destroy",
    "backup_retention_days",
    "kms_deletion_window_days",
)

DESTROYABLE = {
    "deletion_protection": False,
    "final_snapshot": False,
    "prevent_destroy": False,
    "backup_retention_days": 1,
    "kms_deletion_window_days": 7,
}

PROTECTED = {
    "deletion_protection": True,
    "final_snapshot": True,
    "prevent_destroy": True,
    "backup_retention_days": 14,
    "kms_deletion_window_days": 30,
}

PROFILES = {
    "test": DESTROYABLE,
    "dev": DESTROYABLE,
    "staging": PROTECTED,
    "prod": {**PROTECTED, "backup_retention_days": 35},
}


@dataclass(frozen=True)
class ResolvedProfile:
    """The settings a spec gets: its profile's values with the spec's overrides applied."""

    environment: str
    defaults: dict[str, Any]
    settings: dict[str, Any]
    overrides: dict[str, Any]

    @property
    def destroyable(self) -> bool:
        """Tell whether the profile itself, before overrides, is a destroyable one."""
        return self.defaults == DESTROYABLE

    def weakened(self) -> list[str]:
        """List the settings whose override is weaker than the profile's value."""
        return [key for key, value in self.overrides.items() if value < self.defaults[key]]


def resolve_profile(spec: dict[str, Any]) -> ResolvedProfile:
    """Return the protection settings of a schema-valid spec, overrides applied."""
    environment = spec["service"]["environment"]
    defaults = dict(PROFILES[environment])
    section = spec.get("protection", {})
    overrides = {key: section[key] for key in SETTINGS if key in section}
    return ResolvedProfile(environment, defaults, {**defaults, **overrides}, overrides)


def profile_problems(spec: dict[str, Any]) -> list[tuple[JsonPath, str]]:
    """List overrides that weaken prod without confirmation, and confirmations with no effect."""
    profile = resolve_profile(spec)
    confirmed = spec.get("protection", {}).get(PROD_CONFIRMATION, False)
    problems: list[tuple[JsonPath, str]] = []
    if profile.environment == PROD and not confirmed:
        for key in profile.weakened():
            problems.append((
                ("protection", key),
                f"{_show(profile.overrides[key])} is weaker than the prod profile's "
                f"{_show(profile.defaults[key])}; set protection.{PROD_CONFIRMATION}: true to confirm",
            ))
    elif confirmed and profile.environment != PROD:
        problems.append((
            ("protection", PROD_CONFIRMATION),
            f"applies only to the prod environment, not {profile.environment!r}; remove it",
        ))
    elif confirmed and not profile.weakened():
        problems.append((
            ("protection", PROD_CONFIRMATION),
            "no override is weaker than the prod profile; remove it, "
            "so that a later weakening needs a new confirmation",
        ))
    return problems


def explain_profile(spec: dict[str, Any]) -> list[str]:
    """Return lines that name the spec's profile and show where each setting comes from."""
    profile = resolve_profile(spec)
    kind = "destroyable" if profile.destroyable else "protected"
    count = len(profile.overrides)
    summary = f"{count} override{'' if count == 1 else 's'}" if count else "no overrides"
    weakened = profile.weakened()
    if weakened and profile.environment == PROD:
        summary += f", {len(weakened)} weaker than the profile, confirmed by protection.{PROD_CONFIRMATION}"
    lines = [f"profile {profile.environment} ({kind}), {summary}:"]
    width = max(len(key) for key in SETTINGS)
    for key in SETTINGS:
        value = _show(profile.settings[key])
        lines.append(f"  {key:<{width}}  {value:<5}  {_source(profile, key)}")
    lines.append(f"terraform destroy: {_destroy_outcome(profile.settings, derive_names(spec)['final_snapshot'])}")
    return lines


def _destroy_outcome(settings: dict[str, Any], snapshot: str) -> str:
    if settings["prevent_destroy"]:
        return "rejected by Terraform while prevent_destroy is true"
    if settings["deletion_protection"]:
        return "rejected by AWS for the Aurora cluster and load balancer while deletion_protection is true"
    window = settings["kms_deletion_window_days"]
    snapshot_note = f" and keeps the final snapshot {snapshot}" if settings["final_snapshot"] else ""
    return f"deletes every resource{snapshot_note}; AWS deletes the KMS key {window} days later"


def _source(profile: ResolvedProfile, key: str) -> str:
    if key not in profile.overrides:
        return "from the profile"
    default = _show(profile.defaults[key])
    if profile.overrides[key] == profile.defaults[key]:
        return "override, same as the profile"
    strength = "weaker" if key in profile.weakened() else "stronger"
    return f"override, {strength} than the profile's {default}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
