"""Point Terraform at the offline mirror of the AWS provider, building it when needed."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
MIRROR_SCRIPT = REPO_ROOT / "scripts" / "provider_mirror.py"


def mirror_cli_config(directory: Path) -> Path:
    """Return a Terraform CLI config that installs the AWS provider offline.

    Uses TF_CLI_CONFIG_FILE when it names a file (as `make test` sets it), and
    otherwise builds the mirror in directory. Skips the test when the provider
    wheel is not installed, so init never falls back to the registry.
    """
    configured = os.environ.get("TF_CLI_CONFIG_FILE")
    if configured and Path(configured).is_file():
        return Path(configured).resolve()
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return module.build_mirror(directory)
    except FileNotFoundError as error:
        pytest.skip(str(error))
