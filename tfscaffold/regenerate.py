"""Regenerate a project from its spec and merge the new render into the files on disk.

Each generated file is merged three ways: the base is the file as tfscaffold
last wrote it (`.tfscaffold/base/`), "ours" is the file on disk and "theirs"
is the new render. A plan is computed first, without side effects. Applying
it writes each file by rename and records the new state last, so a failed
step leaves the recorded state where it was.
"""

from __future__ import annotations

import difflib
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfscaffold.context import spec_to_context
from tfscaffold.errors import InterruptedRegenerationError, ProjectError, UnresolvedConflictError
from tfscaffold.merge import has_conflict_markers, merge_texts, restore_line_endings, split_lines
from tfscaffold.migrations import CURRENT_SPEC_VERSION
from tfscaffold.project import (
    STATE_DIR,
    PendingMerge,
    ProjectState,
    check_relative_path,
    mark_pending_complete,
    project_file,
    read_state,
    read_text,
    read_tree,
    remove_pending,
    replace_file,
    spec_text,
    write_files,
    write_pending,
    write_state,
)
from tfscaffold.render import Renderer, default_renderer
from tfscaffold.spec import load_spec_file, load_spec_text
from tfscaffold.terraform import check_project, find_terraform, fmt, scratch_copy
from tfscaffold.validation import validate_loaded

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """The changes that regenerating one project would make, computed without touching the project."""

    project: Path
    # The new render, which becomes the base of the next regeneration.
    render: dict[str, str]
    writes: dict[str, str] = field(default_factory=dict)
    originals: dict[str, str | None] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    undo_evidence: list[str] = field(default_factory=list)
    # Disk text of each file with CRLF line endings. The file is merged with
    # LF endings, and each line gets its ending back on writing.
    crlf: dict[str, str] = field(default_factory=dict)
    kept_edited: list[str] = field(default_factory=list)
    left_deleted: list[str] = field(default_factory=list)
    # The recorded base of each file in left_deleted, which stays recorded in
    # place of the new render, so a file restored later gets the change merged.
    kept_base: dict[str, str] = field(default_factory=dict)
    spec_text: str | None = None
    concluded: PendingMerge | None = None
    state_changed: bool = False
    notes: list[str] = field(default_factory=list)

    def recorded_base(self, render: dict[str, str]) -> dict[str, str]:
        """Return the base to record after applying the plan: render, with kept_base in place of deleted files."""
        return {**render, **self.kept_base}

    @property
    def changes_files(self) -> bool:
        """Tell whether the plan writes or removes a project file."""
        return bool(self.writes or self.removed)

    @property
    def changed(self) -> bool:
        """Tell whether applying the plan would write anything, state folder included."""
        return self.changes_files or self.state_changed


def plan_regeneration(
    project: Path, *, spec_file: Path | None = None, write_spec: bool = False, renderer: Renderer | None = None
) -> Plan:
    """Compute the regeneration of project from spec_file, or from its stored spec.

    Raises ProjectError for a folder that is not a project, SpecError for an
    invalid spec, UnresolvedConflictError while conflict markers of an earlier
    run remain, and MergeError when git cannot merge a file.
    """
    project = Path(project)
    renderer = renderer or default_renderer()
    state = read_state(project)
    base, stored_spec_text, concluded, notes = _resolve_pending(project, state)
    if base is None and spec_file is None:
        # Without a recorded render, an edit of the stored spec cannot be
        # distinguished from the spec the project was generated from.
        raise ProjectError(
            f"{project}: no {STATE_DIR}/base/ records what was generated; pass the spec to apply with --spec, "
            f"and keep {STATE_DIR}/spec.yaml as the spec the project was generated from"
        )

    if spec_file is not None:
        spec = validate_loaded(load_spec_file(spec_file))
    else:
        spec = _load_stored_spec(stored_spec_text, state.spec_path)
    theirs = _render(renderer, spec)
    if base is None:
        base = _render(renderer, _load_stored_spec(stored_spec_text, state.spec_path))
        notes.append(f"no {STATE_DIR}/base/ found, so a render of the stored spec with the current templates "
                     "is the merge base: template changes made since the project was generated are not applied")

    plan = Plan(project, render=theirs, concluded=concluded, notes=notes)
    for relative in sorted(base.keys() | theirs.keys()):
        _plan_file(plan, relative, base.get(relative), theirs.get(relative))

    target_spec_text = spec_text(spec) if spec_file is not None or write_spec else stored_spec_text
    plan.spec_text = target_spec_text if target_spec_text != state.spec_text else None
    # NOTE: with validation the recorded base is the render after `terraform fmt`,
    # so a template that renders unformatted HCL keeps this comparison unequal
    # and check reports the project as stale until the template is fixed.
    plan.state_changed = (
        plan.spec_text is not None or plan.recorded_base(theirs) != state.base or state.pending is not None
    )
    return plan


def _load_stored_spec(text: str, path: Path) -> dict[str, Any]:
    return validate_loaded(load_spec_text(text, str(path)))


def _render(renderer: Renderer, spec: dict[str, Any]) -> dict[str, str]:
    files = renderer.render(spec_to_context(spec))
    for relative in files:
        try:
            check_relative_path(relative)
        except ValueError as error:
            raise ProjectError(f"the templates render a file tfscaffold cannot write: {error}") from None
    return files


def _resolve_pending(
    project: Path, state: ProjectState
) -> tuple[dict[str, str] | None, str, PendingMerge | None, list[str]]:
    """Return the base and stored spec to merge from, concluding a resolved pending regeneration."""
    pending = state.pending
    if pending is None:
        return state.base, state.spec_text, None, []
    if not pending.complete and not _finished_writing(project, pending):
        note = "dropped the pending regeneration: it was interrupted before it changed any file"
        return state.base, state.spec_text, None, [note]
    if _is_abandoned(project, pending):
        note = "dropped the pending regeneration: every file it changed is back to its content before it"
        return state.base, state.spec_text, None, [note]
    unresolved = [path for path in pending.conflicts if _has_markers(project_file(project, path))]
    if unresolved:
        raise UnresolvedConflictError(
            f"{project}: conflict markers remain in {', '.join(unresolved)}; resolve them and rerun "
            "tfscaffold regenerate, or run tfscaffold regenerate --abort to undo the conflicted regeneration"
        )
    note = "recorded the pending regeneration, whose conflicts are resolved"
    return pending.base, pending.spec_text or state.spec_text, pending, [note]


def _is_abandoned(project: Path, pending: PendingMerge) -> bool:
    """Tell whether the user undid the pending run instead of resolving its conflicts.

    Keeping one's own side of every conflict can bring a conflicted file back
    to its earlier text, so only a file in undo_evidence distinguishes an undo.
    """
    if not pending.undo_evidence:
        return False
    return all(_read_optional(project_file(project, path)) == text for path, text in pending.originals.items())


def record_finished_writes(project: Path) -> None:
    """Mark a pending regeneration complete when it was interrupted after writing all its files.

    Once recorded, resolving a conflict back to the text before the run is no
    longer mistaken for a file the run did not write.
    """
    project = Path(project)
    pending = read_state(project).pending
    if pending is not None and not pending.complete and _finished_writing(project, pending):
        mark_pending_complete(project, pending)


def _finished_writing(project: Path, pending: PendingMerge) -> bool:
    """Tell whether an interrupted conflicted run wrote all its files (True) or none of them (False).

    Raises InterruptedRegenerationError when it wrote only some of them, or a
    file was changed since, because recording that run would keep a half
    applied regeneration.
    """
    current = {path: _read_optional(project_file(project, path)) for path in pending.originals}
    if all(text == pending.results[path] for path, text in current.items()):
        return True
    if all(text == pending.originals[path] for path, text in current.items()):
        return False
    unwritten = [path for path, text in current.items() if text == pending.originals[path]]
    changed = [path for path, text in current.items() if text not in (pending.originals[path], pending.results[path])]
    details = []
    if unwritten:
        details.append(f"not written: {', '.join(unwritten)}")
    if changed:
        details.append(f"changed since: {', '.join(changed)}")
    raise InterruptedRegenerationError(
        f"{project}: the regeneration with conflicts recorded in {STATE_DIR}/pending/ was interrupted before it "
        f"wrote all its files ({'; '.join(details)}). Run tfscaffold regenerate --abort to restore every file "
        "it changed, then run tfscaffold regenerate again"
    )


def _has_markers(path: Path) -> bool:
    text = _read_optional(path)
    return text is not None and has_conflict_markers(text)


def _read_optional(path: Path) -> str | None:
    if path.is_dir():
        raise ProjectError(f"{path}: is a folder where tfscaffold generates a file; move it away")
    return read_text(path) if path.is_file() else None


def _plan_file(plan: Plan, relative: str, base: str | None, theirs: str | None) -> None:
    """Decide what happens to one generated file; see the module docstring for the roles."""
    ours = _read_optional(project_file(plan.project, relative))
    if ours is not None and "\r\n" in ours:
        # Merge with LF line endings, as rendered, and restore CRLF on writing,
        # so a checkout with core.autocrlf does not look edited on every line.
        # See restore_line_endings for files that mix both endings.
        plan.crlf[relative] = ours
        ours = ours.replace("\r\n", "\n")
    if theirs is None:
        _plan_dropped_file(plan, relative, base, ours)
    elif ours is None:
        if base is None:
            _write(plan, relative, theirs, ours, plan.added)
        elif theirs != base:
            plan.left_deleted.append(relative)
            plan.kept_base[relative] = base
    elif ours == theirs or theirs == base:
        return
    elif ours == base:
        _write(plan, relative, theirs, ours, plan.updated)
    else:
        _merge(plan, relative, base or "", ours, theirs)


def _plan_dropped_file(plan: Plan, relative: str, base: str | None, ours: str | None) -> None:
    """Remove a file the templates no longer render, unless the user edited it."""
    if ours is None:
        return
    if ours == base:
        plan.removed.append(relative)
        plan.originals[relative] = plan.crlf.get(relative, ours)
        plan.undo_evidence.append(relative)
    else:
        plan.kept_edited.append(relative)


def _merge(plan: Plan, relative: str, base: str, ours: str, theirs: str) -> None:
    result = merge_texts(base, ours, theirs)
    if result.conflicts:
        _write(plan, relative, result.text, ours, plan.conflicts)
        if merge_texts(base, ours, theirs, keep_ours=True).text == ours:
            plan.undo_evidence.remove(relative)
    elif result.text != ours:
        _write(plan, relative, result.text, ours, plan.updated)


def _write(plan: Plan, relative: str, text: str, ours: str | None, category: list[str]) -> None:
    plan.writes[relative] = text
    plan.originals[relative] = plan.crlf.get(relative, ours)
    plan.undo_evidence.append(relative)
    category.append(relative)


def apply_plan(plan: Plan, *, validate: bool = True) -> None:
    """Write a plan into its project.

    With validate, `terraform fmt` and `terraform validate` run once on a
    scratch copy of the merged project first, and nothing is written when they
    fail (TerraformError). A plan with conflicts writes its files with
    markers, skips validation (the markers are not HCL) and records itself in
    `.tfscaffold/pending/` instead of advancing the recorded state.
    """
    if not plan.changed:
        return
    writes, render = _format_and_validate(plan) if validate else (plan.writes, plan.render)
    base = plan.recorded_base(render)
    disk_texts = {relative: _disk_text(plan, relative, text) for relative, text in writes.items()}
    if plan.conflicts:
        if plan.concluded is not None:
            write_state(plan.project, plan.concluded.base, plan.concluded.spec_text)
        # The manifest is written before the first file and marked complete
        # after the last, so an interrupted run is found and undone exactly.
        results = {**disk_texts, **dict.fromkeys(plan.removed)}
        pending = PendingMerge(plan.conflicts, plan.originals, base, plan.spec_text, plan.undo_evidence,
                               results=results, complete=False)
        write_pending(plan.project, pending)
        _write_project(plan, disk_texts)
        mark_pending_complete(plan.project, pending)
        return
    _write_project(plan, disk_texts)
    write_state(plan.project, base, plan.spec_text)


def _format_and_validate(plan: Plan) -> tuple[dict[str, str], dict[str, str]]:
    """Return the plan's writes and render after `terraform fmt`.

    The merged project is validated too, unless the plan has conflicts. It is
    assembled in a scratch copy of the project (see scratch_copy), so Terraform
    writes nothing into the project or through its links.
    """
    tf = find_terraform()
    with tempfile.TemporaryDirectory(prefix="tfscaffold-regenerate-") as scratch:
        render_dir = Path(scratch) / "render"
        write_files(render_dir, plan.render)
        fmt(tf, render_dir)
        render = read_tree(render_dir)
    writes = plan.writes
    if not plan.conflicts and (plan.changes_files or plan.concluded is not None):
        with scratch_copy(plan.project, skip=[STATE_DIR]) as staging:
            write_files(staging, plan.writes)
            for relative in plan.removed:
                (staging / relative).unlink()
            check_project(staging, tf=tf, copy_of=plan.project)
            writes = {relative: read_text(staging / relative) for relative in plan.writes}
    return writes, render


def _disk_text(plan: Plan, relative: str, text: str) -> str:
    """Return text, merged with LF line endings, as it is written to the project file."""
    if relative in plan.crlf:
        return restore_line_endings(plan.crlf[relative], text)
    return text


def _write_project(plan: Plan, disk_texts: dict[str, str]) -> None:
    for relative, text in disk_texts.items():
        path = project_file(plan.project, relative)
        if _read_optional(path) != text:
            replace_file(path, text)
    for relative in plan.removed:
        project_file(plan.project, relative).unlink(missing_ok=True)


def abort_pending(project: Path) -> list[str]:
    """Undo a regeneration that left conflicts: restore each file it changed and drop `.tfscaffold/pending/`.

    Return the restored paths; an empty list when nothing was pending.
    """
    project = Path(project)
    pending = read_state(project).pending
    if pending is None:
        return []
    # Check every path before the first write, so a bad entry leaves the project untouched.
    paths = {relative: project_file(project, relative) for relative in pending.originals}
    for relative, text in pending.originals.items():
        path = paths[relative]
        if text is None:
            path.unlink(missing_ok=True)
        elif _read_optional(path) != text:
            replace_file(path, text)
    remove_pending(project)
    return sorted(pending.originals)


def migrate_stored_spec(project: Path) -> int | None:
    """Rewrite a project's stored spec in the current spec_version; return the old version, or None when current.

    The rewritten file contains the spec without default values, under the usual
    header, so comments in it are lost. Raises UnresolvedConflictError while a
    regeneration is pending, because that run records its own spec.
    """
    project = Path(project)
    state = read_state(project)
    if state.pending is not None:
        raise UnresolvedConflictError(
            f"{project}: a regeneration with conflicts is pending; finish it or run tfscaffold regenerate --abort first"
        )
    loaded = load_spec_text(state.spec_text, str(state.spec_path))
    version = loaded.data.get("spec_version")
    spec = validate_loaded(loaded)
    if version == CURRENT_SPEC_VERSION:
        return None
    replace_file(state.spec_path, spec_text(spec))
    return version


def unified_diff(plan: Plan, label: str) -> str:
    """Return the changes the plan makes to project files as a unified diff, with paths under label."""
    chunks = []
    for relative in sorted(plan.writes.keys() | set(plan.removed)):
        before = plan.originals.get(relative)
        after = plan.writes.get(relative)
        if after is not None:
            after = _disk_text(plan, relative, after)
        chunks.extend(
            difflib.unified_diff(
                split_lines(before or ""),
                split_lines(after or ""),
                fromfile=f"{label}/{relative}" if before is not None else "/dev/null",
                tofile=f"{label}/{relative}" if after is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in chunks)
