"""Entry points of the cookiecutter hooks, running the same validation and checks as the CLI."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from tfscaffold.context import context_fields, read_context
from tfscaffold.errors import SpecError, TerraformError, TerraformNotFoundError, TfscaffoldError
from tfscaffold.project import read_text, refresh_base, state_files, write_files
from tfscaffold.render import default_renderer, is_empty_render
from tfscaffold.spec import JsonPath, LoadedSpec
from tfscaffold.terraform import check_project
from tfscaffold.validation import validate_loaded

SKIP_VALIDATION_VARIABLE = "TFSCAFFOLD_NO_VALIDATE"


class ContextSpec(LoadedSpec):
    """A spec built from a cookiecutter context; locations name context variables."""

    def position(self, path: JsonPath, *, key: bool = False) -> tuple[int, int] | None:
        # Sort problems in prompt order, as the variables appear in cookiecutter.json.
        order = {field.path: index for index, field in enumerate(context_fields())}
        for end in range(len(path), 0, -1):
            if tuple(path[:end]) in order:
                return order[tuple(path[:end])] + 1, 0
        return None

    def where(self, path: JsonPath, *, key: bool = False) -> str:
        keys = {field.path: field.key for field in context_fields()}
        for end in range(len(path), 0, -1):
            if tuple(path[:end]) in keys:
                return f"cookiecutter variable {keys[tuple(path[:end])]}"
        return "cookiecutter context"


def spec_from_context(context: dict[str, Any]) -> dict[str, Any]:
    """Validate a cookiecutter context and return the complete spec; raise SpecError listing every problem."""
    data, problems = read_context(context)
    service = data.get("service", {})
    if data.get("project_slug") == f"{service.get('name')}-{service.get('environment_suffix')}":
        # cookiecutter.json derives the folder name from these two variables;
        # leaving it to the spec's default avoids reporting their errors twice.
        del data["project_slug"]
    return validate_loaded(ContextSpec(data, "cookiecutter context"), problems)


def pre_generate(context: dict[str, Any]) -> int:
    """Validate the full context before any file is rendered; return an exit code."""
    try:
        spec_from_context(context)
    except SpecError as error:
        _report(error)
        return error.exit_code
    return 0


def post_generate(project_dir: Path, context: dict[str, Any]) -> int:
    """Drop empty renders, store the spec and the render, run terraform fmt and validate; return an exit code."""
    try:
        spec = spec_from_context(context)
        _remove_empty_renders(project_dir, context)
        write_files(project_dir, state_files(spec, _generated_files(project_dir, context)))
        if os.environ.get(SKIP_VALIDATION_VARIABLE, "").lower() in ("1", "true", "yes"):
            print(f"tfscaffold: skipped terraform fmt and validate ({SKIP_VALIDATION_VARIABLE} is set)", file=sys.stderr)
        else:
            check_project(project_dir)
            refresh_base(project_dir)
    except TfscaffoldError as error:
        _report(error)
        print("tfscaffold: pass --keep-project-on-failure to cookiecutter to keep the files", file=sys.stderr)
        if isinstance(error, (TerraformError, TerraformNotFoundError)):
            print(f"tfscaffold: set {SKIP_VALIDATION_VARIABLE}=1 to skip the Terraform steps when no provider "
                  "or Terraform is at hand", file=sys.stderr)
        return error.exit_code
    return 0


def _generated_files(project_dir: Path, context: dict[str, Any]) -> dict[str, str]:
    """Read the files cookiecutter rendered, leaving out any other file in an existing output folder."""
    names = default_renderer().render(context)
    return {relative: read_text(project_dir / relative) for relative in names}


def _remove_empty_renders(project_dir: Path, context: dict[str, Any]) -> None:
    """Delete the files whose templates rendered no content, as `generate` leaves them out.

    Only template outputs are considered, so the empty files of a user, such
    as a .gitkeep in a folder that --overwrite-if-exists writes into, stay.
    """
    for relative, text in default_renderer().render_all(context).items():
        path = project_dir / relative
        if not is_empty_render(text) or path.is_symlink() or not path.is_file():
            continue
        if is_empty_render(path.read_text(encoding="utf-8", errors="replace")):
            path.unlink()


def _report(error: TfscaffoldError) -> None:
    print(f"tfscaffold: error: {error}", file=sys.stderr)


def run_hook(name: str, context_json: str, repo_dir: str) -> None:
    """Entry point of the hook scripts; exits the process with the hook's exit code."""
    logging.basicConfig(level=logging.INFO, format="tfscaffold: %(message)s")
    context = json.loads(context_json)
    if name == "pre":
        sys.exit(pre_generate(context))
    sys.exit(post_generate(Path.cwd(), context))
