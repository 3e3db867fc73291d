"""Run regenerate, check, diff, migrate or abort over many projects and summarise the results.

A project that fails is reported and the run goes on with the next one. The
exit code of a run is the highest of its projects. It is 0 when every project
is up to date or was updated, and 1 for changes found by check or diff, a
conflict or a failed step. Bad input, such as an invalid spec or a folder that
is not a project, gives 2.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from tfscaffold.errors import ProjectError, TfscaffoldError, UnresolvedConflictError
from tfscaffold.project import SPEC_FILE, STATE_DIR
from tfscaffold.regenerate import (
    Plan,
    abort_pending,
    apply_plan,
    migrate_stored_spec,
    plan_regeneration,
    record_finished_writes,
    unified_diff,
)
from tfscaffold.render import Renderer

STATUS_EXIT_CODES = {
    "unchanged": 0,
    "updated": 0,
    "migrated": 0,
    "aborted": 0,
    "stale": 1,
    "conflict": 1,
    "failed": 1,
    "invalid": 2,
}

GLOB_CHARACTERS = set("*?[")


@dataclass
class RunOptions:
    """Options shared by the projects of one run."""

    spec_file: Path | None = None
    write_spec: bool = False
    validate: bool = True
    renderer: Renderer | None = None


@dataclass
class ProjectResult:
    """The outcome for one project; the file lists hold paths relative to the project."""

    project: str
    status: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)
    left_deleted: list[str] = field(default_factory=list)
    state_changed: bool = False
    notes: list[str] = field(default_factory=list)
    message: str = ""
    diff: str = ""

    @property
    def exit_code(self) -> int:
        """Exit code of this result alone."""
        return STATUS_EXIT_CODES[self.status]

    def summary(self) -> str:
        """Describe the result in one line for the summary table."""
        if self.message:
            lines = self.message.strip().splitlines()
            return lines[0].rstrip(":") + (" (details above)" if len(lines) > 1 else "")
        parts = [f"{len(files)} {noun}" for files, noun in
                 ((self.added, "new"), (self.updated, "changed"), (self.removed, "removed")) if files]
        listed = ((self.conflicts, "conflicts"), (self.kept_edited, "kept edited"), (self.left_deleted, "left deleted"))
        parts += [f"{label}: {', '.join(files)}" for files, label in listed if files]
        if not parts and self.notes:
            parts.append(self.notes[0])
        elif not parts and self.state_changed:
            parts.append(f"{STATE_DIR}/ only")
        return "; ".join(parts) or "-"

    def to_json(self) -> dict[str, object]:
        """Return the result as a JSON-ready mapping."""
        data: dict[str, object] = {"project": self.project, "status": self.status, "exit_code": self.exit_code}
        for name in ("added", "updated", "removed", "conflicts", "kept_edited", "left_deleted", "notes"):
            data[name] = getattr(self, name)
        data["state_changed"] = self.state_changed
        data["message"] = self.message
        if self.diff:
            data["diff"] = self.diff
        return data


def find_projects(patterns: list[str]) -> tuple[list[Path], list[ProjectResult]]:
    """Expand paths and glob patterns into project folders.

    A glob keeps only the folders that contain `.tfscaffold/spec.yaml`, so
    `services/*` skips other files. A plain path, or any pattern that names an
    existing path such as `team[1]`, is kept as given and checked later.
    Return the folders and an invalid result for each pattern that matched no
    project.
    """
    projects: list[Path] = []
    unmatched: list[ProjectResult] = []
    for pattern in patterns:
        if GLOB_CHARACTERS.isdisjoint(pattern) or os.path.lexists(pattern):
            matches = [Path(pattern)]
        else:
            matches = [Path(match) for match in sorted(glob.glob(pattern))
                       if (Path(match) / STATE_DIR / SPEC_FILE).is_file()]
        if not matches:
            unmatched.append(ProjectResult(pattern, "invalid", message=f"{pattern}: no tfscaffold project matches"))
        projects.extend(match for match in matches if match not in projects)
    return projects, unmatched


def run_command(
    command: str, patterns: list[str], options: RunOptions, *, show_progress: bool = True
) -> list[ProjectResult]:
    """Run command ("regenerate", "check", "diff", "migrate" or "abort") on every project matched by patterns.

    With show_progress, stderr gets one line per project plus the details of
    conflicts and errors. Raises ProjectError when a spec file is
    given for more than one project.
    """
    handler = COMMANDS[command]
    projects, results = find_projects(patterns)
    if options.spec_file is not None and len(projects) > 1:
        raise ProjectError(f"--spec applies to one project, but {len(projects)} projects were given")
    for number, project in enumerate(projects, start=1):
        result = _run_one(handler, project, options)
        results.append(result)
        if show_progress:
            _print_progress(sys.stderr, number, len(projects), result)
    return results


def _run_one(handler: Callable[[Path, RunOptions], ProjectResult], project: Path, options: RunOptions) -> ProjectResult:
    try:
        return handler(project, options)
    except UnresolvedConflictError as error:
        return ProjectResult(str(project), "conflict", message=str(error))
    except TfscaffoldError as error:
        status = "invalid" if error.exit_code == 2 else "failed"
        return ProjectResult(str(project), status, message=str(error))
    except OSError as error:
        return ProjectResult(str(project), "failed", message=f"{project}: {error}")


def _print_progress(stream: TextIO, number: int, total: int, result: ProjectResult) -> None:
    print(f"tfscaffold: [{number}/{total}] {result.project}: {result.status}", file=stream)
    details = result.notes + ([result.message] if result.message else [])
    for detail in details:
        for line in detail.splitlines():
            print(f"    {line}", file=stream)


def _result_from_plan(project: Path, plan: Plan, status: str) -> ProjectResult:
    return ProjectResult(
        str(project),
        status,
        added=plan.added,
        updated=plan.updated,
        removed=plan.removed,
        conflicts=plan.conflicts,
        kept_edited=plan.kept_edited,
        left_deleted=plan.left_deleted,
        state_changed=plan.state_changed,
        notes=plan.notes,
    )


def regenerate_project(project: Path, options: RunOptions) -> ProjectResult:
    """Regenerate one project and return what changed."""
    record_finished_writes(project)
    plan = plan_regeneration(project, spec_file=options.spec_file, write_spec=options.write_spec,
                             renderer=options.renderer)
    apply_plan(plan, validate=options.validate)
    if plan.conflicts:
        result = _result_from_plan(project, plan, "conflict")
        result.notes.append(
            f"conflict markers written to {', '.join(plan.conflicts)}; resolve them and rerun tfscaffold "
            "regenerate, or undo this run with tfscaffold regenerate --abort"
        )
        return result
    return _result_from_plan(project, plan, "updated" if plan.changed else "unchanged")


def check_project_drift(project: Path, options: RunOptions) -> ProjectResult:
    """Report whether regenerating one project would change anything, without writing."""
    return _drift_result(project, plan_regeneration(project, renderer=options.renderer))


def diff_project(project: Path, options: RunOptions) -> ProjectResult:
    """Like check_project_drift, with the unified diff of the project files attached."""
    plan = plan_regeneration(project, renderer=options.renderer)
    result = _drift_result(project, plan)
    result.diff = unified_diff(plan, project.as_posix())
    return result


def _drift_result(project: Path, plan: Plan) -> ProjectResult:
    if plan.conflicts:
        result = _result_from_plan(project, plan, "conflict")
        result.notes.append(f"regenerating would write conflict markers into {', '.join(plan.conflicts)}")
        return result
    return _result_from_plan(project, plan, "stale" if plan.changed else "unchanged")


def migrate_project(project: Path, options: RunOptions) -> ProjectResult:
    """Rewrite one project's stored spec in the current spec_version."""
    old_version = migrate_stored_spec(project)
    if old_version is None:
        return ProjectResult(str(project), "unchanged")
    note = f"{STATE_DIR}/{SPEC_FILE} rewritten from spec_version {old_version}"
    return ProjectResult(str(project), "migrated", state_changed=True, notes=[note])


def abort_project(project: Path, options: RunOptions) -> ProjectResult:
    """Undo a regeneration that left conflicts in one project."""
    restored = abort_pending(project)
    if not restored:
        return ProjectResult(str(project), "unchanged", notes=["no regeneration with conflicts is pending"])
    return ProjectResult(str(project), "aborted", state_changed=True, notes=[f"restored {', '.join(restored)}"])


COMMANDS: dict[str, Callable[[Path, RunOptions], ProjectResult]] = {
    "regenerate": regenerate_project,
    "check": check_project_drift,
    "diff": diff_project,
    "migrate": migrate_project,
    "abort": abort_project,
}


def worst_exit_code(results: list[ProjectResult]) -> int:
    """Return the highest exit code among results, 0 for none."""
    return max((result.exit_code for result in results), default=0)


def summary_table(results: list[ProjectResult]) -> str:
    """Format results as a plain-text table with a header row."""
    rows = [("PROJECT", "RESULT", "DETAILS")] + [(r.project, r.status, r.summary()) for r in results]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    lines = [f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def results_json(command: str, results: list[ProjectResult]) -> str:
    """Format a run as JSON: the command, the exit code and one entry per project."""
    document = {
        "command": command,
        "exit_code": worst_exit_code(results),
        "projects": [result.to_json() for result in results],
    }
    return json.dumps(document, indent=2) + "\n"
