"""Generate a project from a spec: render, check with Terraform, then move into place."""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from tfscaffold.context import spec_to_context
from tfscaffold.errors import ProjectExistsError, TfscaffoldError
from tfscaffold.jinja import prime_model_cache
from tfscaffold.policy import check_policy
from tfscaffold.project import refresh_base, state_files, write_files
from tfscaffold.render import default_renderer
from tfscaffold.terraform import check_project

log = logging.getLogger(__name__)


def render_files(spec: dict[str, Any]) -> dict[str, str]:
    """Return every file of the project for a validated spec, state folder included."""
    context = spec_to_context(spec)
    # The spec is validated already, so the templates need not validate it again.
    prime_model_cache(context, spec)
    files = default_renderer().render(context)
    files.update(state_files(spec, files))
    return files


def generate(
    spec: dict[str, Any],
    output_dir: Path,
    *,
    validate: bool = True,
    force: bool = False,
    policy_check: bool = False,
    env_extra: dict[str, str] | None = None,
) -> Path:
    """Write the project for a validated spec to output_dir/<project_slug>; return its path.

    Rendering, `terraform fmt` and `terraform validate` happen in a temporary
    folder next to the target. The target changes only when all of them pass,
    and then in one rename. With policy_check, checkov scans the project
    before the rename too. env_extra adds environment variables to the
    Terraform runs. Raise ProjectExistsError when the target exists and force
    is False, TerraformError when a Terraform step fails and PolicyError when
    checkov finds a problem the skip file does not accept.
    """
    output_dir = Path(output_dir)
    target = output_dir / spec["project_slug"]
    if output_dir.exists() and not output_dir.is_dir():
        raise TfscaffoldError(f"{output_dir}: is a file, not a folder; pass a folder as --output-dir")
    if _exists(target) and not force:
        raise _exists_error(target)
    if force:
        _check_no_terraform_state(target)
    output_dir.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix=".tfscaffold-", dir=output_dir) as scratch:
        staging = Path(scratch) / spec["project_slug"]
        write_files(staging, render_files(spec))
        if validate:
            check_project(staging, env_extra=env_extra)
            refresh_base(staging)
        else:
            log.warning("skipped terraform fmt and validate (--no-validate)")
        if policy_check:
            check_policy(staging, spec["service"]["environment"])
        _move_into_place(staging, target, force=force)
    return target


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


# Files that hold Terraform state, which no render can bring back.
STATE_FILE_PATTERNS = ("terraform.tfstate", "terraform.tfstate.backup", ".terraform/terraform.tfstate")


def _check_no_terraform_state(target: Path) -> None:
    """Raise ProjectExistsError when replacing target would delete Terraform state."""
    found = [pattern for pattern in STATE_FILE_PATTERNS if (target / pattern).exists()]
    if target.is_dir() and found:
        raise ProjectExistsError(
            f"{target} contains Terraform state ({', '.join(found)}), which --force would delete; "
            "update the project with `tfscaffold regenerate` instead, or move the state out first"
        )


def _exists_error(target: Path) -> ProjectExistsError:
    return ProjectExistsError(f"{target} already exists; pass --force to replace it")


def _move_into_place(staging: Path, target: Path, *, force: bool) -> None:
    """Move staging to target in one rename, so target is never missing or half written.

    With force, an existing target is swapped with staging by Linux's
    renameat2 RENAME_EXCHANGE. The old content, now at staging, is deleted
    with the scratch folder. Without force, the rename fails if target
    appeared after the first check.
    """
    if _exists(target):
        if not force:
            raise _exists_error(target)
        if not _renameat2(staging, target, RENAME_EXCHANGE):
            _replace_in_two_steps(staging, target)
        return
    try:
        moved = _renameat2(staging, target, RENAME_NOREPLACE)
    except FileExistsError:
        raise _exists_error(target) from None
    if not moved:
        os.rename(staging, target)


def _replace_in_two_steps(staging: Path, target: Path) -> None:
    # NOTE: without renameat2 (not Linux, or a file system without
    # RENAME_EXCHANGE) target is missing between the two renames. A crash
    # there leaves the old project in the .tfscaffold-* folder beside it.
    previous = staging.with_name(staging.name + ".previous")
    os.replace(target, previous)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(previous, target)
        raise


# Flags of renameat2(2), from linux/fs.h.
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.lru_cache(maxsize=1)
def _libc_renameat2() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library older than glibc 2.28
        return None


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """Rename with renameat2(2) flags; return False when the system cannot, raise OSError on failure."""
    renameat2 = _libc_renameat2()
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), ctypes.c_uint(flags))
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):
        log.debug("renameat2 flags %d not supported here: %s", flags, os.strerror(code))
        return False
    raise OSError(code, os.strerror(code), str(target))
