"""Scan a rendered project with checkov and report the findings no skip entry accepts.

checkov runs as a child process from its own virtualenv, because it depends on
bc-python-hcl2, which installs a module named `hcl2` over python-hcl2's. It
runs with `--skip-download` and BC_SKIP_MAPPING=TRUE, so it makes no network
call, and the accepted findings come from one file, policy/checkov-skips.yaml.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tfscaffold.errors import CheckovNotFoundError, PolicyError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SKIPS_FILE = REPO_ROOT / "policy" / "checkov-skips.yaml"
CHECKOV_VENV = REPO_ROOT / ".cache" / "checkov-venv"
OVERRIDE_ENV_VAR = "TFSCAFFOLD_CHECKOV"

CHECKOV_ARGS = ["--framework", "terraform", "--skip-download", "--quiet", "--compact", "--soft-fail",
                "--output", "json"]
CHECKOV_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Finding:
    """One failed checkov check on one resource."""

    check: str
    resource: str
    title: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.check} {self.resource}: {self.title}"


@dataclass(frozen=True)
class Skip:
    """One accepted finding: a check, the resources it covers, where it applies and why."""

    check: str
    resources: tuple[str, ...]
    reason: str
    environments: tuple[str, ...] | None = None

    def covers(self, finding: Finding, environment: str) -> bool:
        """Tell whether this entry accepts finding in a project of environment."""
        if finding.check != self.check:
            return False
        if self.environments is not None and environment not in self.environments:
            return False
        address = re.sub(r"\[[^\]]*\]$", "", finding.resource)
        return any(fnmatch.fnmatchcase(address, pattern) for pattern in self.resources)


def find_checkov() -> str | None:
    """Return the checkov command: $TFSCAFFOLD_CHECKOV, .cache/checkov-venv, then PATH; None if absent."""
    override = os.environ.get(OVERRIDE_ENV_VAR)
    if override:
        return shutil.which(override)
    bundled = CHECKOV_VENV / "bin" / "checkov"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return shutil.which("checkov")


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    """Read the skip file; raise PolicyError when an entry lacks a check, resources or a reason."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    skips = []
    for index, entry in enumerate(data.get("skips", [])):
        missing = [key for key in ("check", "resources", "reason") if not entry.get(key)]
        if missing:
            raise PolicyError(f"{path}: skips[{index}] has no {', '.join(missing)}")
        environments = entry.get("environments")
        skips.append(Skip(entry["check"], tuple(entry["resources"]), entry["reason"],
                          tuple(environments) if environments else None))
    return skips


def run_checkov(project_dir: Path, checkov: str | None = None) -> list[Finding]:
    """Scan project_dir with checkov and return every failed check.

    Raises CheckovNotFoundError when checkov is not installed and PolicyError
    when it fails to run.
    """
    checkov = checkov or find_checkov()
    if checkov is None:
        raise CheckovNotFoundError(
            "checkov not found: run scripts/install_checkov.sh, put checkov on PATH "
            f"or set {OVERRIDE_ENV_VAR} to its path"
        )
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    log.info("checkov scan of %s", project_dir)
    result = subprocess.run(
        [checkov, "--directory", str(project_dir), *CHECKOV_ARGS],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=CHECKOV_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        raise PolicyError(f"checkov failed with exit code {result.returncode}:\n{result.stderr.strip()}")
    return _parse_report(result.stdout, Path(project_dir))


def _parse_report(text: str, project_dir: Path) -> list[Finding]:
    try:
        report: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"checkov printed no JSON report ({error.msg}):\n{text[:2000]}") from None
    findings = []
    for section in report if isinstance(report, list) else [report]:
        for failed in section.get("results", {}).get("failed_checks", []):
            lines = failed.get("file_line_range") or [0]
            findings.append(Finding(failed["check_id"], failed["resource"], failed.get("check_name", ""),
                                    failed.get("file_path", "").lstrip("/"), lines[0]))
    return findings


def unaccepted(findings: list[Finding], skips: list[Skip], environment: str) -> list[Finding]:
    """Return the findings that no skip entry covers in environment."""
    return [finding for finding in findings if not any(skip.covers(finding, environment) for skip in skips)]


def check_policy(project_dir: Path, environment: str) -> None:
    """Scan project_dir; raise PolicyError listing every finding the skip file does not accept."""
    remaining = unaccepted(run_checkov(project_dir), load_skips(), environment)
    if remaining:
        lines = "\n".join(str(finding) for finding in remaining)
        raise PolicyError(
            f"checkov found {len(remaining)} problem{'s' if len(remaining) != 1 else ''} that "
            f"{SKIPS_FILE.relative_to(REPO_ROOT)} does not accept:\n{lines}"
        )
    log.info("checkov: no finding outside %s", SKIPS_FILE.name)
