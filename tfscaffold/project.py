"""Files tfscaffold keeps inside a generated project, in its `.tfscaffold/` folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfscaffold.context import minimal_spec
from tfscaffold.spec import dump_spec

STATE_DIR = ".tfscaffold"
SPEC_FILE = "spec.yaml"

SPEC_HEADER = (
    "# The spec this project was generated from, without values equal to their\n"
    "# defaults. Edit it and run `tfscaffold regenerate` to apply the change.\n"
)


def state_files(spec: dict[str, Any]) -> dict[str, str]:
    """Return the files of the state folder for a spec, as {relative path: text}."""
    return {f"{STATE_DIR}/{SPEC_FILE}": SPEC_HEADER + dump_spec(minimal_spec(spec))}


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write {relative path: text} below root, creating folders, with LF line endings."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
