"""Files tfscaffold keeps inside a generated project, in its `.tfscaffold/` folder.

    .tfscaffold/spec.yaml        the spec the project is generated from
    .tfscaffold/base/<file>.base each generated file as tfscaffold last wrote it
    .tfscaffold/pending/         only while a regeneration with conflicts waits:
        manifest.json            the files it changes, their text before and after it, which
                                 conflicted, and whether it finished writing them
        spec.yaml                the spec it applies, when it changes the stored one
        base/<file>.base         the render it merged in

`base/` is the common ancestor of the three-way merge that `tfscaffold
regenerate` runs. Its files end in `.base`, so that no tool that scans the
project recursively (terraform fmt -recursive, checkov, tflint) mistakes them
for part of the configuration.
"""

from __future__ import annotations

import json
import logging
import os
import reprlib
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from tfscaffold.context import stored_spec
from tfscaffold.errors import ProjectError
from tfscaffold.spec import dump_spec

log = logging.getLogger(__name__)

STATE_DIR = ".tfscaffold"
SPEC_FILE = "spec.yaml"
BASE_DIR = "base"
PENDING_DIR = "pending"
MANIFEST_FILE = "manifest.json"
BASE_SUFFIX = ".base"

SPEC_HEADER = (
    "# The spec this project was generated from, with every default written out.\n"
    "# Edit it and run `tfscaffold regenerate` to apply the change.\n"
)


@dataclass
class PendingMerge:
    """A regeneration that wrote conflict markers and waits for the user to resolve them."""

    conflicts: list[str]
    originals: dict[str, str | None]
    base: dict[str, str]
    spec_text: str | None = None
    # Files that cannot return to their text before the run by resolving
    # conflicts alone, so finding them all back there means the user undid it.
    undo_evidence: list[str] = field(default_factory=list)
    # The text the run writes to each file in originals, or None for a file it
    # removes. Manifests written before this field existed have none.
    results: dict[str, str | None] = field(default_factory=dict)
    # False from before the run's first file write until after its last one,
    # so the next run detects a run that was interrupted in between.
    complete: bool = True


@dataclass
class ProjectState:
    """The contents of a project's `.tfscaffold/` folder."""

    spec_path: Path
    spec_text: str
    base: dict[str, str] | None
    pending: PendingMerge | None


def spec_text(spec: dict[str, Any]) -> str:
    """Return the text of `.tfscaffold/spec.yaml` for a validated spec."""
    return SPEC_HEADER + dump_spec(stored_spec(spec))


def state_files(spec: dict[str, Any], rendered: dict[str, str]) -> dict[str, str]:
    """Return the state folder for a spec and its rendered files, as {relative path: text}."""
    files = {f"{STATE_DIR}/{SPEC_FILE}": spec_text(spec)}
    for relative, text in rendered.items():
        files[f"{STATE_DIR}/{BASE_DIR}/{relative}{BASE_SUFFIX}"] = text
    return files


def read_base(base_dir: Path) -> dict[str, str]:
    """Read a base folder as {project-relative path: text}, dropping the `.base` suffix.

    A file whose name does not end in `.base`, such as `.gitkeep` or the
    temporary file of an interrupted write, is not a base copy. It is left
    out and logged at debug level, so no later step reads or deletes it.
    """
    base = {}
    ignored = []
    for relative, text in read_tree(base_dir).items():
        name = PurePosixPath(relative).name
        if name.endswith(BASE_SUFFIX) and name != BASE_SUFFIX:
            try:
                base[check_relative_path(relative.removesuffix(BASE_SUFFIX))] = text
            except ValueError as error:
                raise ProjectError(f"{base_dir / relative}: {error}; delete this file") from None
        else:
            ignored.append(relative)
    if ignored:
        log.debug("ignored files in %s without the %s suffix: %s", base_dir, BASE_SUFFIX, ", ".join(ignored))
    return base


def check_relative_path(value: object) -> str:
    """Return value when it is a normalised relative POSIX path outside `.tfscaffold/`.

    Raises ValueError naming the problem otherwise. Every path that tfscaffold
    reads from its state folder goes through this check before it is joined
    to the project folder.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected a path as a string, got {type(value).__name__} {reprlib.repr(value)}")
    path = PurePosixPath(value)
    if not value or "\0" in value or "\\" in value:
        raise ValueError(f"invalid path {value!r}: expected a relative POSIX path such as \"alb.tf\"")
    if path.is_absolute():
        raise ValueError(f"invalid path {value!r}: expected a path relative to the project, not an absolute one")
    if ".." in path.parts:
        raise ValueError(f"invalid path {value!r}: '..' leads out of the project")
    if path.as_posix() != value:
        raise ValueError(f"invalid path {value!r}: expected the normal form {path.as_posix()!r}")
    if path.parts[0] == STATE_DIR:
        raise ValueError(f"invalid path {value!r}: tfscaffold generates no file in {STATE_DIR}/")
    return value


def project_file(project_dir: Path, relative: str) -> Path:
    """Return the path of a generated file in project_dir, checking that no part of it is a symbolic link.

    relative must have passed check_relative_path. Raises ProjectError for a
    link, because reading or writing through it would reach a file outside the
    project or one that other projects share.
    """
    path = project_dir
    parts = PurePosixPath(relative).parts
    for index, part in enumerate(parts):
        path = path / part
        if path.is_symlink():
            kind = "file" if index == len(parts) - 1 else "folder"
            raise ProjectError(
                f"{path}: is a symbolic link on the path of the generated file {relative}, and tfscaffold "
                f"does not read or write generated files through links; replace the link with a regular {kind}"
            )
    return path


def _base_files(base: dict[str, str]) -> dict[str, str]:
    return {f"{BASE_DIR}/{relative}{BASE_SUFFIX}": text for relative, text in base.items()}


def refresh_base(project_dir: Path) -> None:
    """Copy each generated file over its copy in `.tfscaffold/base/`, after `terraform fmt` changed it."""
    base_dir = project_dir / STATE_DIR / BASE_DIR
    for relative in read_base(base_dir):
        (base_dir / f"{relative}{BASE_SUFFIX}").write_bytes((project_dir / relative).read_bytes())


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write {relative path: text} below root, creating folders, with LF line endings."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def read_tree(root: Path, *, skip: Iterable[str] = ()) -> dict[str, str]:
    """Read every file below root as {relative POSIX path: text}, leaving out the top-level names in skip."""
    skipped = set(skip)
    files = {}
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skipped or not path.is_file():
            continue
        files[relative.as_posix()] = read_text(path)
    return files


def read_text(path: Path) -> str:
    """Read a UTF-8 file; raise ProjectError naming the file when it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProjectError(f"{path}: not a UTF-8 text file ({error.reason} at byte {error.start})") from None


def read_state(project_dir: Path) -> ProjectState:
    """Read the state folder of a project; raise ProjectError when the folder is not a tfscaffold project."""
    state_dir = project_dir / STATE_DIR
    spec_path = state_dir / SPEC_FILE
    if project_dir.exists() and not project_dir.is_dir():
        raise ProjectError(f"{project_dir}: is a file; expected a project folder")
    if not project_dir.is_dir():
        raise ProjectError(f"{project_dir}: project folder not found")
    if not spec_path.is_file():
        raise ProjectError(f"{project_dir}: not a tfscaffold project: {STATE_DIR}/{SPEC_FILE} not found")
    _reject_links(state_dir)
    base_dir = state_dir / BASE_DIR
    base = read_base(base_dir) if base_dir.is_dir() else None
    return ProjectState(spec_path, read_text(spec_path), base, _read_pending(state_dir / PENDING_DIR))


def _reject_links(state_dir: Path) -> None:
    """Raise ProjectError when the state folder or anything in it is a symbolic link.

    tfscaffold writes into this folder, so a link would redirect those writes
    out of the project.
    """
    links = [state_dir] if state_dir.is_symlink() else []
    for root, folders, files in os.walk(state_dir):
        links.extend(Path(root) / name for name in folders + files if os.path.islink(os.path.join(root, name)))
    if links:
        raise ProjectError(
            f"{links[0]}: is a symbolic link; {STATE_DIR}/ may contain only regular files and folders, "
            "so replace the link with a copy of what it points to"
        )


def _read_pending(pending_dir: Path) -> PendingMerge | None:
    manifest_path = pending_dir / MANIFEST_FILE
    if not manifest_path.is_file():
        return None
    try:
        pending = _parse_manifest(json.loads(read_text(manifest_path)))
    except ValueError as error:
        raise ProjectError(
            f"{manifest_path}: invalid manifest of a regeneration with conflicts: {error}. tfscaffold cannot "
            f"undo that regeneration, so restore the files it changed from version control and delete {pending_dir}"
        ) from None
    spec_path = pending_dir / SPEC_FILE
    pending.base = read_base(pending_dir / BASE_DIR)
    pending.spec_text = read_text(spec_path) if spec_path.is_file() else None
    return pending


def _parse_manifest(manifest: object) -> PendingMerge:
    """Check the types and paths of a decoded manifest.json; raise ValueError naming the first problem."""
    if not isinstance(manifest, dict):
        raise ValueError(f"expected a JSON object, got {type(manifest).__name__}")
    for key in ("conflicts", "originals", "undo_evidence"):
        if key not in manifest:
            raise ValueError(f"missing key {key!r}")
    originals = _parse_texts(manifest, "originals")
    # base and spec_text are read from the files beside the manifest.
    pending = PendingMerge(
        conflicts=_parse_paths(manifest, "conflicts", originals),
        originals=originals,
        base={},
        undo_evidence=_parse_paths(manifest, "undo_evidence", originals),
    )
    if "results" in manifest:
        pending.results = _parse_texts(manifest, "results")
        if pending.results.keys() != originals.keys():
            raise ValueError("results: expected the same paths as originals")
    complete = manifest.get("complete", True)
    if not isinstance(complete, bool):
        raise ValueError(f"complete: expected true or false, got {type(complete).__name__} {reprlib.repr(complete)}")
    if not complete and "results" not in manifest:
        raise ValueError("complete is false, so the manifest needs results")
    pending.complete = complete
    return pending


def _parse_texts(manifest: dict[str, Any], key: str) -> dict[str, str | None]:
    value = manifest[key]
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected an object of path to text, got {type(value).__name__}")
    texts = {}
    for path, text in value.items():
        _check_manifest_path(key, path)
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{key}[{path!r}]: expected text or null, got {type(text).__name__} {reprlib.repr(text)}")
        texts[path] = text
    return texts


def _check_manifest_path(key: str, path: object) -> None:
    try:
        check_relative_path(path)
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


def _parse_paths(manifest: dict[str, Any], key: str, originals: dict[str, str | None]) -> list[str]:
    value = manifest[key]
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list of paths, got {type(value).__name__}")
    for path in value:
        _check_manifest_path(key, path)
        if path not in originals:
            raise ValueError(f"{key}: {path!r} is not among the originals")
    return list(value)


def write_pending(project_dir: Path, pending: PendingMerge) -> None:
    """Record a conflicted regeneration in `.tfscaffold/pending/`, replacing the folder in one rename."""
    state_dir = project_dir / STATE_DIR
    target = state_dir / PENDING_DIR
    with tempfile.TemporaryDirectory(prefix=".pending-", dir=state_dir) as scratch:
        staging = Path(scratch) / PENDING_DIR
        files = {MANIFEST_FILE: _manifest_text(pending)}
        files.update(_base_files(pending.base))
        if pending.spec_text is not None:
            files[SPEC_FILE] = pending.spec_text
        write_files(staging, files)
        remove_pending(project_dir)
        os.replace(staging, target)


def mark_pending_complete(project_dir: Path, pending: PendingMerge) -> None:
    """Record in the manifest that the pending regeneration has written all its files."""
    pending.complete = True
    replace_file(project_dir / STATE_DIR / PENDING_DIR / MANIFEST_FILE, _manifest_text(pending))


def _manifest_text(pending: PendingMerge) -> str:
    manifest = {
        "conflicts": pending.conflicts,
        "originals": pending.originals,
        "undo_evidence": pending.undo_evidence,
        "results": pending.results,
        "complete": pending.complete,
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def remove_pending(project_dir: Path) -> None:
    """Delete `.tfscaffold/pending/` if it exists."""
    shutil.rmtree(project_dir / STATE_DIR / PENDING_DIR, ignore_errors=True)


def write_state(project_dir: Path, base: dict[str, str], spec: str | None) -> None:
    """Record a finished regeneration: the spec first (when given), then the base, then drop pending/.

    In this order an interrupted run leaves a state the next run completes: a
    new spec over an old base is merged again, never reverted.
    """
    state_dir = project_dir / STATE_DIR
    if spec is not None:
        replace_file(state_dir / SPEC_FILE, spec)
    base_dir = state_dir / BASE_DIR
    old = read_base(base_dir)
    for relative, text in base.items():
        if old.get(relative) != text:
            replace_file(base_dir / f"{relative}{BASE_SUFFIX}", text)
    for relative in old.keys() - base.keys():
        (base_dir / f"{relative}{BASE_SUFFIX}").unlink()
    remove_pending(project_dir)


def replace_file(path: Path, text: str) -> None:
    """Write text to path through a temporary file and a rename, keeping the file's permission bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
        if path.exists():
            os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
        else:
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
