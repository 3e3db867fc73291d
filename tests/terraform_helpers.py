"""Shared helpers for tests that run Terraform offline against the provider mirror."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

from tfscaffold import terraform
from tfscaffold.terraform import Terraform, find_terraform, terraform_env

REPO_ROOT = Path(__file__).resolve().parent.parent
MIRROR_SCRIPT = REPO_ROOT / "scripts" / "provider_mirror.py"


def build_mirror(root: Path) -> Path:
    """Build the AWS provider mirror under root and return its CLI config file."""
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_mirror(root)


class InitializedProject:
    """A scratch copy of a project, initialised once, whose .tf files can be swapped and validated."""

    def __init__(self, directory: Path, config: Path, source: Path) -> None:
        self.directory = directory
        self.tf: Terraform = find_terraform()
        self.env = terraform_env({"TF_CLI_CONFIG_FILE": str(config)})
        self.load(source)
        code, output = self.tf.run(["init", "-backend=false", "-input=false", "-no-color"], self.directory, self.env)
        assert code == 0, output

    def load(self, source: Path) -> None:
        """Replace the .tf files with those of the project at source."""
        for old in self.directory.glob("*.tf"):
            old.unlink()
        self.directory.mkdir(parents=True, exist_ok=True)
        for new in source.glob("*.tf"):
            shutil.copy2(new, self.directory / new.name)

    def validate(self) -> tuple[int, str]:
        """Run terraform validate and return its exit code and output."""
        return self.tf.run(["validate", "-no-color"], self.directory, self.env)


def terraform_values(directory: Path, locals_body: str) -> dict[str, Any]:
    """Evaluate `locals { <locals_body> }` with Terraform and return every local as JSON data.

    The configuration has no provider, so apply evaluates it without network
    access or credentials. Terraform itself decodes the HCL string escapes.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = [line.split("=", 1)[0].strip() for line in locals_body.split("\n")
             if line.startswith("  ") and not line.startswith("   ") and "=" in line]
    outputs = "".join(f'output "{name}" {{\n  value = local.{name}\n}}\n' for name in names)
    (directory / "main.tf").write_text(f"locals {{\n{locals_body}\n}}\n{outputs}", encoding="utf-8")
    tf = find_terraform()
    env = terraform_env()
    code, output = tf.run(["apply", "-auto-approve", "-input=false", "-no-color"], directory, env)
    assert code == 0, output
    result = terraform._execute(tf, ["output", "-json", "-no-color"], directory, env)
    assert result.returncode == 0, result.stderr
    return {name: item["value"] for name, item in json.loads(result.stdout).items()}


def block_lines(text: str, opening: str) -> str:
    """Return the lines from `opening` to its closing brace at the same indent, both included."""
    lines = text.split("\n")  # not splitlines(), which also splits at U+2028 and friends
    start = lines.index(opening)
    indent = opening[: len(opening) - len(opening.lstrip())]
    end = lines.index(f"{indent}}}", start)
    return "\n".join(lines[start : end + 1])
