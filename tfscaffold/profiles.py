"""Environment profiles: which protections each environment gets."""

from __future__ import annotations

from typing import Any

DESTROYABLE = {
    "deletion_protection": False,
    "skip_final_snapshot": True,
    "backup_retention_days": 1,
    "kms_deletion_window_days": 7,
}

PROTECTED = {
    "deletion_protection": True,
    "skip_final_snapshot": False,
    "backup_retention_days": 14,
    "kms_deletion_window_days": 30,
}

PROFILES = {
    "test": DESTROYABLE,
    "dev": DESTROYABLE,
    "staging": PROTECTED,
    "prod": {**PROTECTED, "backup_retention_days": 35},
}


def resolve_profile(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the protection settings for the spec's environment."""
    return dict(PROFILES[spec["service"]["environment"]])
