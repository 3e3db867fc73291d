"""The tfscaffold command run as a child process: exit codes, messages and files written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLE_SPEC, REPO_ROOT, read_tree

SLUG = "payment-service-test"
MISSING_TERRAFORM = {"TFSCAFFOLD_TERRAFORM": "no-such-terraform-command"}

BAD_SPEC = """\
spec_version: 1
service:
  name: Payment
  environment: qa
  environment_suffix: test
  region: eu-west-1
container:
  image: nginx
  cpu: 512
  memory: 512
"""

# A mirror folder without providers, and direct installation disabled, so
# `terraform init` fails without contacting any host.
EMPTY_MIRROR_CONFIG = """\
provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"""


def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfscaffold", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env_extra or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def write_marker_project(output_dir: Path) -> Path:
    project = output_dir / SLUG
    project.mkdir(parents=True)
    (project / "main.tf").write_text("# written by hand\n", encoding="utf-8")
    return project


def scratch_folders(output_dir: Path) -> list[str]:
    return [path.name for path in output_dir.iterdir() if path.name.startswith(".tfscaffold-")]


def test_validate_example(tmp_path):
    result = run_cli("validate", str(EXAMPLE_SPEC))

    assert result.returncode == 0, result.stderr
    assert "valid (test environment, project payment-service-test)" in result.stdout


def test_validate_bad_spec(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD_SPEC, encoding="utf-8")

    result = run_cli("validate", str(spec))

    assert result.returncode == 2
    assert f"tfscaffold: error: {spec}: 3 problems:" in result.stderr
    assert f"{spec}:3:9: service.name: invalid value \"Payment\"" in result.stderr
    assert f"{spec}:4:16: service.environment: invalid value \"qa\"" in result.stderr
    assert f"{spec}:10:11: container.memory: invalid value 512; with cpu 512, expected one of: 1024, 2048, 3072, 4096" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_validate_missing_file(tmp_path):
    result = run_cli("validate", str(tmp_path / "missing.yaml"))

    assert result.returncode == 2
    assert "spec file not found" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("mirror_config")
def test_generate_writes_project(tmp_path, render_variant):
    result = run_cli("generate", str(EXAMPLE_SPEC), "-o", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"generated {tmp_path / SLUG}\n"
    assert (tmp_path / SLUG / ".tfscaffold" / "spec.yaml").is_file()
    assert read_tree(tmp_path / SLUG) == render_variant("example").files()
    assert scratch_folders(tmp_path) == []


def test_generate_rejects_existing(tmp_path):
    project = write_marker_project(tmp_path)

    result = run_cli("generate", str(EXAMPLE_SPEC), "-o", str(tmp_path), "--no-validate")

    assert result.returncode != 0
    assert "already exists; pass --force to replace it" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_tree(project) == {"main.tf": b"# written by hand\n"}


def test_generate_force_replaces(tmp_path, render_variant):
    project = write_marker_project(tmp_path)

    result = run_cli("generate", str(EXAMPLE_SPEC), "-o", str(tmp_path), "--no-validate", "--force")

    assert result.returncode == 0, result.stderr
    assert read_tree(project) == render_variant("example").files()
    assert scratch_folders(tmp_path) == []


def test_generate_no_validate_without_terraform(tmp_path, render_variant):
    result = run_cli("generate", str(EXAMPLE_SPEC), "-o", str(tmp_path), "--no-validate", env_extra=MISSING_TERRAFORM)

    assert result.returncode == 0, result.stderr
    assert "skipped terraform fmt and validate" in result.stderr
    assert read_tree(tmp_path / SLUG) == render_variant("example").files()


def test_generate_missing_terraform(tmp_path):
    result = run_cli("generate", str(EXAMPLE_SPEC), "-o", str(tmp_path), env_extra=MISSING_TERRAFORM)

    assert result.returncode == 1
    assert "TFSCAFFOLD_TERRAFORM='no-such-terraform-command'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / SLUG).exists()
    assert scratch_folders(tmp_path) == []


def test_generate_failed_validate_keeps_old(tmp_path, terraform_command):
    config = tmp_path / "empty-mirror.tfrc"
    config.write_text(EMPTY_MIRROR_CONFIG.format(mirror=tmp_path / "mirror"), encoding="utf-8")
    output_dir = tmp_path / "out"
    project = write_marker_project(output_dir)

    result = run_cli(
        "generate", str(EXAMPLE_SPEC), "-o", str(output_dir), "--force", env_extra={"TF_CLI_CONFIG_FILE": str(config)}
    )

    assert result.returncode == 1
    assert "terraform init failed" in result.stderr
    assert "Failed to query available provider packages" in result.stderr
    assert read_tree(project) == {"main.tf": b"# written by hand\n"}
    assert scratch_folders(output_dir) == []


def test_generate_output_dir_is_file(tmp_path):
    output = tmp_path / "afile"
    output.write_text("not a folder\n", encoding="utf-8")

    result = run_cli("generate", str(EXAMPLE_SPEC), "--output-dir", str(output), "--no-validate")

    assert result.returncode == 1
    assert f"tfscaffold: error: {output}: is a file, not a folder; pass a folder as --output-dir" in result.stderr
    assert output.read_text(encoding="utf-8") == "not a folder\n"
