"""The template run by the real cookiecutter command renders what `tfscaffold generate` renders."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from conftest import EXAMPLE_SPEC, REPO_ROOT, parse_project, read_tree, render_spec_file

# Cookiecutter prompts for every variable whose name does not start with an underscore.
PROMPT_COUNT = sum(1 for key in json.loads((REPO_ROOT / "cookiecutter.json").read_text()) if not key.startswith("_"))

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"
SLUG = "payment-service-test"
SKIP_VALIDATION = {"TFSCAFFOLD_NO_VALIDATE": "1"}

# A prompt ends with its default in brackets and a colon, possibly wrapped in
# ANSI colour codes: "... (payment-service): ".
PROMPT_END = r"\)(?:\x1b\[[0-9;]*m)*: "
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")

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


@pytest.fixture
def cookiecutter_config(tmp_path: Path) -> Path:
    """Return a cookiecutter config that keeps replay files out of the home folder."""
    config = tmp_path / "cookiecutter-config.yaml"
    config.write_text(
        yaml.safe_dump({"cookiecutters_dir": str(tmp_path / "cookiecutters"), "replay_dir": str(tmp_path / "replay")}),
        encoding="utf-8",
    )
    return config


def run_cookiecutter(
    config: Path, output_dir: Path, *extra_context: str, env_extra: dict[str, str] | None = None, keep: bool = False
) -> subprocess.CompletedProcess[str]:
    args = [str(COOKIECUTTER), str(REPO_ROOT), "--no-input", "--config-file", str(config), "-o", str(output_dir)]
    if keep:
        args.append("--keep-project-on-failure")
    return subprocess.run(
        [*args, *extra_context],
        env={**os.environ, **(env_extra or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def render_example_with(tmp_path: Path, changes: dict[str, dict[str, object]]) -> Path:
    """Render the example spec with some sections updated, through the library."""
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    for section, values in changes.items():
        spec.setdefault(section, {}).update(values)
    spec_path = tmp_path / "changed-spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return render_spec_file(spec_path, tmp_path / "library")


def answer_prompts(child: pexpect.spawn, answers: dict[str, str]) -> list[str]:
    """Answer each prompt whose text contains a key of answers, accept the default otherwise.

    Returns the prompt texts in order.
    """
    prompts = []
    while child.expect([PROMPT_END, pexpect.EOF]) == 0:
        text = ANSI_CODE.sub("", child.before)
        prompts.append(text)
        answer = next((value for key, value in answers.items() if key in text), "")
        child.sendline(answer)
    child.close()
    return prompts


def spawn_interactive(config: Path, output_dir: Path, env_extra: dict[str, str] | None = None) -> pexpect.spawn:
    args = [str(REPO_ROOT), "--config-file", str(config), "-o", str(output_dir)]
    child = pexpect.spawn(
        str(COOKIECUTTER),
        args,
        env={**os.environ, **(env_extra or {})},
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 400),
    )
    # The default 50 ms pause before each answer adds seconds over 29 prompts.
    child.delaybeforesend = None
    return child


@pytest.mark.usefixtures("mirror_config")
def test_no_input_matches_cli(tmp_path, cookiecutter_config, render_variant):
    from_cookiecutter = run_cookiecutter(cookiecutter_config, tmp_path / "cookiecutter")
    from_cli = subprocess.run(
        [sys.executable, "-m", "tfscaffold", "generate", str(EXAMPLE_SPEC), "-o", str(tmp_path / "cli")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert from_cookiecutter.returncode == 0, from_cookiecutter.stderr
    assert from_cli.returncode == 0, from_cli.stderr
    cookiecutter_files = read_tree(tmp_path / "cookiecutter" / SLUG)
    assert ".tfscaffold/spec.yaml" in cookiecutter_files
    assert cookiecutter_files == read_tree(tmp_path / "cli" / SLUG)
    assert cookiecutter_files == render_variant("example").files()


@pytest.mark.usefixtures("mirror_config")
def test_extra_context_applied(tmp_path, cookiecutter_config):
    result = run_cookiecutter(
        cookiecutter_config,
        tmp_path / "cookiecutter",
        "container_cpu=1024",
        "container_memory=2048",
        "database_instances=3",
    )
    expected = render_example_with(
        tmp_path, {"container": {"cpu": 1024, "memory": 2048}, "database": {"instances": 3}}
    )

    assert result.returncode == 0, result.stderr
    project = tmp_path / "cookiecutter" / SLUG
    parsed = parse_project(project)
    assert parsed.resources["aws_ecs_task_definition"]["blue"]["cpu"] == 1024
    assert parsed.resources["aws_ecs_task_definition"]["blue"]["memory"] == 2048
    assert parsed.resources["aws_rds_cluster_instance"]["this"]["count"] == 3
    assert parsed.resources["aws_ecs_service"]["blue"]["load_balancer"][0]["container_port"] == 8080
    assert list(parsed.locals["secrets"]) == ["stripe-api-key", "webhook-signing-secret"]
    assert read_tree(project) == read_tree(expected)


@pytest.mark.parametrize(
    ("assignment", "messages"),
    [
        pytest.param(
            "container_memory=512",
            ["cookiecutter variable container_memory", "invalid value 512", "expected one of: 1024, 2048, 3072, 4096"],
            id="fargate-memory",
        ),
        pytest.param(
            "service_name=Bad_Name",
            ["cookiecutter variable service_name", 'invalid value "Bad_Name"'],
            id="service-name",
        ),
        pytest.param(
            "database_instances=two",
            ["cookiecutter variable database_instances", "expected a whole number"],
            id="not-a-number",
        ),
    ],
)
def test_extra_context_invalid(tmp_path, cookiecutter_config, assignment, messages):
    output_dir = tmp_path / "out"

    result = run_cookiecutter(cookiecutter_config, output_dir, assignment)

    assert result.returncode != 0
    assert "tfscaffold: error:" in result.stderr
    for message in messages:
        assert message in result.stderr
    assert not output_dir.exists() or list(output_dir.iterdir()) == []


@pytest.mark.parametrize("word", ["no", "false", "0", "off"])
def test_boolean_false_words(tmp_path, cookiecutter_config, render_variant, word):
    result = run_cookiecutter(
        cookiecutter_config, tmp_path / "out", f"load_balancer_internal={word}", env_extra=SKIP_VALIDATION
    )

    assert result.returncode == 0, result.stderr
    assert read_tree(tmp_path / "out" / SLUG) == render_variant("example").files()


def test_boolean_yes_word(tmp_path, cookiecutter_config, render_variant):
    result = run_cookiecutter(
        cookiecutter_config, tmp_path / "out", "load_balancer_internal=yes", env_extra=SKIP_VALIDATION
    )
    expected = render_example_with(tmp_path, {"load_balancer": {"internal": True}})

    assert result.returncode == 0, result.stderr
    rendered = read_tree(tmp_path / "out" / SLUG)
    assert rendered == read_tree(expected)
    assert rendered != render_variant("example").files()


@pytest.mark.usefixtures("mirror_config")
def test_interactive_defaults(tmp_path, cookiecutter_config, render_variant):
    child = spawn_interactive(cookiecutter_config, tmp_path / "out")

    prompts = answer_prompts(child, {})

    assert len(prompts) == PROMPT_COUNT
    assert child.exitstatus == 0
    assert read_tree(tmp_path / "out" / SLUG) == render_variant("example").files()


def test_interactive_boolean_yes(tmp_path, cookiecutter_config):
    child = spawn_interactive(cookiecutter_config, tmp_path / "prompted", SKIP_VALIDATION)

    prompts = answer_prompts(child, {"Make the ALB internal": "y"})
    from_extra_context = run_cookiecutter(
        cookiecutter_config, tmp_path / "extra", "load_balancer_internal=yes", env_extra=SKIP_VALIDATION
    )

    assert any("Make the ALB internal" in prompt for prompt in prompts)
    assert child.exitstatus == 0
    assert from_extra_context.returncode == 0, from_extra_context.stderr
    assert read_tree(tmp_path / "prompted" / SLUG) == read_tree(tmp_path / "extra" / SLUG)


def test_post_hook_shows_terraform_error(tmp_path, cookiecutter_config, terraform_command):
    config = tmp_path / "empty-mirror.tfrc"
    config.write_text(EMPTY_MIRROR_CONFIG.format(mirror=tmp_path / "mirror"), encoding="utf-8")
    output_dir = tmp_path / "out"

    result = run_cookiecutter(cookiecutter_config, output_dir, env_extra={"TF_CLI_CONFIG_FILE": str(config)})

    assert result.returncode != 0
    assert "tfscaffold: error: terraform init failed" in result.stderr
    assert "Failed to query available provider packages" in result.stderr
    assert "hashicorp/aws" in result.stderr
    assert "--keep-project-on-failure" in result.stderr
    assert not output_dir.exists() or list(output_dir.iterdir()) == []


def test_post_hook_failure_keeps_project(tmp_path, cookiecutter_config, terraform_command):
    config = tmp_path / "empty-mirror.tfrc"
    config.write_text(EMPTY_MIRROR_CONFIG.format(mirror=tmp_path / "mirror"), encoding="utf-8")
    output_dir = tmp_path / "out"

    result = run_cookiecutter(
        cookiecutter_config, output_dir, env_extra={"TF_CLI_CONFIG_FILE": str(config)}, keep=True
    )

    assert result.returncode != 0
    assert (output_dir / SLUG / "rds.tf").is_file()
    assert (output_dir / SLUG / ".tfscaffold" / "spec.yaml").is_file()


@pytest.mark.parametrize("working_dir", ["repository", "parent"])
def test_relative_template_path(tmp_path, cookiecutter_config, render_variant, working_dir):
    cwd = REPO_ROOT if working_dir == "repository" else REPO_ROOT.parent
    template = os.path.relpath(REPO_ROOT, cwd)
    result = subprocess.run(
        [str(COOKIECUTTER), template, "--no-input", "--config-file", str(cookiecutter_config), "-o", str(tmp_path)],
        cwd=cwd,
        env={**os.environ, **SKIP_VALIDATION},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert read_tree(tmp_path / SLUG) == render_variant("example").files()


def test_tags_json_on_command_line(tmp_path, cookiecutter_config):
    result = run_cookiecutter(
        cookiecutter_config, tmp_path / "out", 'tags={"Team": "orders"}', env_extra=SKIP_VALIDATION
    )

    assert result.returncode == 0, result.stderr
    locals_tf = (tmp_path / "out" / SLUG / "locals.tf").read_text(encoding="utf-8")
    assert '"Team"              = "orders"' in locals_tf
    assert "CostCenter" not in locals_tf


def test_tags_invalid_json_rejected(tmp_path, cookiecutter_config):
    result = run_cookiecutter(cookiecutter_config, tmp_path / "out", "tags={Team: orders}", env_extra=SKIP_VALIDATION)

    assert result.returncode != 0
    assert "cookiecutter variable tags: tags: invalid JSON" in result.stderr


def test_overwrite_keeps_empty_user_files(tmp_path, cookiecutter_config, render_variant):
    output_dir = tmp_path / "out"
    project = output_dir / SLUG
    first = run_cookiecutter(cookiecutter_config, output_dir, env_extra=SKIP_VALIDATION)
    assert first.returncode == 0, first.stderr
    (project / "modules" / "custom").mkdir(parents=True)
    (project / "modules" / "custom" / ".gitkeep").write_text("")
    (project / "docs").mkdir()
    (project / "docs" / "placeholder.md").write_text("\n")
    (project / "notes.tf").write_text("  \n")

    second = run_cookiecutter(cookiecutter_config, output_dir, "--overwrite-if-exists", env_extra=SKIP_VALIDATION)

    assert second.returncode == 0, second.stderr
    assert (project / "modules" / "custom" / ".gitkeep").read_text() == ""
    assert (project / "docs" / "placeholder.md").read_text() == "\n"
    assert (project / "notes.tf").read_text() == "  \n"
    assert not (project / "https.tf").exists()
    files = read_tree(project)
    for name in ("modules/custom/.gitkeep", "docs/placeholder.md", "notes.tf"):
        del files[name]
    assert files == render_variant("example").files()
