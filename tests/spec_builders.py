"""Build validated specs from the example, with another environment, suffix or sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_loaded

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "payment-service.yaml"


def make_spec(environment: str = "test", suffix: str | None = None, protection: dict[str, Any] | None = None,
              **changes: dict[str, Any]) -> dict[str, Any]:
    """Return the validated example spec with environment, suffix and protection replaced.

    Each keyword in changes names a section whose keys it updates, as in
    `container={"port": 9090}`. Raises SpecError when the result is invalid.
    """
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["service"]["environment"] = environment
    data["service"]["environment_suffix"] = suffix or environment
    if protection is not None:
        data["protection"] = protection
    for section, values in changes.items():
        data.setdefault(section, {}).update(values)
    return validate_loaded(load_spec_text(yaml.safe_dump(data, sort_keys=False), "spec.yaml"))
