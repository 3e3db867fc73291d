"""Generate a project from a spec: render, check with Terraform, then move into place."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tfscaffold.context import spec_to_context
from tfscaffold.errors import ProjectExistsError
from tfscaffold.jinja import prime_model_cache
from tfscaffold.project import state_files, write_files
from tfscaffold.render import default_renderer
from tfscaffold.terraform import check_project

log = logging.getLogger(__name__)


def render_files(spec: dict[str, Any]) -> dict[str, str]:
    """Return every file of the project for a validated spec, state folder included."""
    context = spec_to_context(spec)
    # The spec is validated already, so the templates need not validate it again.
    prime_model_cache(context, spec)
    files = default_renderer().render(context)
    files.update(state_files(spec))
    return files


def generate(
    spec: dict[str, Any],
    output_dir: Path,
    *,
    validate: bool = True,
    force: bool = False,
    env_extra: dict[str, str] | None = None,
) -> Path:
    """Write the project for a validated spec to output_dir/<project_slug>; return its path.

    Rendering, `terraform fmt` and `terraform validate` happen in a temporary
    folder next to the target; the target changes only when all of them pass.
    env_extra adds environment variables to the Terraform runs. Raise
    ProjectExistsError when the target exists and force is False, and
    TerraformError when a Terraform step fails.
    """
    output_dir = Path(output_dir)
    target = output_dir / spec["project_slug"]
    if target.exists() and not force:
        raise ProjectExistsError(f"{target} already exists; pass --force to replace it")
    output_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix=".tfscaffold-", dir=output_dir) as scratch:
        staging = Path(scratch) / spec["project_slug"]
        write_files(staging, render_files(spec))
        if validate:
            check_project(staging, env_extra=env_extra)
        else:
            log.warning("skipped terraform fmt and validate (--no-validate)")
        _move_into_place(staging, target, Path(scratch))
    return target


def _move_into_place(staging: Path, target: Path, scratch: Path) -> None:
    """Replace target with staging using renames, so target is never half written."""
    if target.exists():
        previous = scratch / "previous"
        os.replace(target, previous)
        try:
            os.replace(staging, target)
        except OSError:
            os.replace(previous, target)
            raise
        shutil.rmtree(previous, ignore_errors=True)
    else:
        os.replace(staging, target)
