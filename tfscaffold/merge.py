"""Three-way merge of one text file with `git merge-file`."""

from __future__ import annotations

import difflib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tfscaffold.errors import MergeError

log = logging.getLogger(__name__)

OURS_LABEL = "your version"
BASE_LABEL = "last render"
THEIRS_LABEL = "new render"

# A line that opens or closes a conflict. The `=======` separator is left out
# because a Markdown heading may be underlined with exactly seven of them.
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)

# One line with its line ending, or a last line without one.
LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")

# `git merge-file` exits with the number of conflicts, capped at 127, and with
# 255 (a negative status) on an error.
MAX_CONFLICT_STATUS = 127


@dataclass(frozen=True)
class MergeResult:
    """The merged text and the number of conflicting hunks written into it with markers."""

    text: str
    conflicts: int


def merge_texts(base: str, ours: str, theirs: str, *, keep_ours: bool = False) -> MergeResult:
    """Merge the changes from base to theirs into ours; raise MergeError when git cannot merge them.

    With keep_ours, each conflict is resolved with the lines of ours instead of markers.
    """
    git = shutil.which("git")
    if git is None:
        raise MergeError("git not found on PATH; install git, which tfscaffold uses to merge edited files")
    with tempfile.TemporaryDirectory(prefix="tfscaffold-merge-") as scratch:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(scratch) / name
            path.write_bytes(text.encode("utf-8"))
            paths.append(str(path))
        args = [git, "merge-file", "-p", "-L", OURS_LABEL, "-L", BASE_LABEL, "-L", THEIRS_LABEL]
        if keep_ours:
            args.append("--ours")
        args.extend(paths)
        result = subprocess.run(args, capture_output=True, env=_git_env(), stdin=subprocess.DEVNULL)
    if result.returncode > MAX_CONFLICT_STATUS:
        detail = result.stderr.decode("utf-8", "replace").strip()
        raise MergeError(f"git merge-file failed with exit code {result.returncode}: {detail}")
    return MergeResult(result.stdout.decode("utf-8"), result.returncode)


def _git_env() -> dict[str, str]:
    """Return an environment without the user's git configuration, so the markers look the same everywhere.

    merge.conflictStyle in a user's configuration would otherwise add a base section.
    """
    env = dict(os.environ)
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
    return env


def has_conflict_markers(text: str) -> bool:
    """Tell whether text still contains a line that opens or closes a conflict."""
    return CONFLICT_MARKER.search(text) is not None


def split_lines(text: str) -> list[str]:
    """Split text after each LF, keeping the endings; unlike str.splitlines, no other character ends a line."""
    return LINE.findall(text)


def restore_line_endings(original: str, text: str) -> str:
    """Give the lines of text, which end in LF, the line endings they have in original.

    original is the file on disk before the merge and text is the merge of
    its copy with LF endings. A line of text that difflib matches to a line
    of original gets that line's ending. Any other line gets the ending that
    most lines of original have, and LF on a tie, so one pasted CRLF line
    does not convert the whole file.
    """
    if "\r\n" not in original:
        return text
    original_lines = split_lines(original)
    keys = [line[:-2] + "\n" if line.endswith("\r\n") else line for line in original_lines]
    endings = ["\r\n" if line.endswith("\r\n") else "\n" for line in original_lines]
    crlf_count = original.count("\r\n")
    lf_count = original.count("\n") - crlf_count
    default = "\r\n" if crlf_count > lf_count else "\n"

    lines = split_lines(text)
    line_endings = [default] * len(lines)
    matcher = difflib.SequenceMatcher(None, keys, lines, autojunk=False)
    for block in matcher.get_matching_blocks():
        line_endings[block.b:block.b + block.size] = endings[block.a:block.a + block.size]
    restored = [line[:-1] + ending if line.endswith("\n") else line for line, ending in zip(lines, line_endings)]
    return "".join(restored)
