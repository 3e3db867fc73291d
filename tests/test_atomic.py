"""Generation never leaves a half-written project and never loses the one already on disk."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from terraform_helpers import build_mirror

from tfscaffold import generate as generate_module
from tfscaffold.cli import main
from tfscaffold.errors import ProjectExistsError, TerraformError
from tfscaffold.generate import generate
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_loaded

SPEC_TEXT = """\
spec_version: 1
service: {name: payment-service, environment: test, environment_suffix: test, region: eu-west-1}
container: {image: public.ecr.aws/nginx/nginx:1.27}
"""
PROJECT = "payment-service-test"


def _spec(text: str = SPEC_TEXT) -> dict:
    return validate_loaded(load_spec_text(text, "spec.yaml"))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def existing(tmp_path) -> Path:
    """An output folder holding a project with a hand-made file that a new generation would not write."""
    project = generate(_spec(), tmp_path, validate=False)
    (project / "operator-notes.txt").write_text("kept until replaced\n")
    return project


def _leftovers(output_dir: Path) -> list[str]:
    return [path.name for path in output_dir.iterdir() if path.name.startswith(".tfscaffold-")]


def test_existing_project_refused_without_force(existing):
    before = _snapshot(existing)
    with pytest.raises(ProjectExistsError, match="pass --force to replace it"):
        generate(_spec(), existing.parent, validate=False)
    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []


def test_cli_refuses_existing_project(existing, tmp_path, capsys):
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(SPEC_TEXT)
    code = main(["generate", str(spec_file), "-o", str(existing.parent), "--no-validate"])
    assert code == 1
    assert capsys.readouterr().err == f"tfscaffold: error: {existing} already exists; pass --force to replace it\n"


def test_failure_while_writing_keeps_old(existing, monkeypatch):
    before = _snapshot(existing)
    real_write = generate_module.write_files

    def write_half_then_fail(root, files):
        names = sorted(files)
        real_write(root, {name: files[name] for name in names[: len(names) // 2]})
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generate_module, "write_files", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        generate(_spec(), existing.parent, validate=False, force=True)
    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []


def test_failure_while_rendering_keeps_old(existing, monkeypatch):
    import jinja2

    before = _snapshot(existing)

    def fail(spec):
        raise jinja2.UndefinedError("'dict object' has no attribute 'no_such_name'")

    monkeypatch.setattr(generate_module, "render_files", fail)
    with pytest.raises(jinja2.UndefinedError):
        generate(_spec(), existing.parent, validate=False, force=True)
    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []


def test_failure_while_validating_keeps_old(existing, monkeypatch):
    before = _snapshot(existing)
    seen = []

    def fail(project_dir, **options):
        seen.append(sorted(path.name for path in project_dir.iterdir()))
        raise TerraformError("validate", "Error: Unsupported argument")

    monkeypatch.setattr(generate_module, "check_project", fail)
    with pytest.raises(TerraformError):
        generate(_spec(), existing.parent, force=True)
    assert seen
    assert "alb.tf" in seen[0]
    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []


def test_real_validate_failure_keeps_old(existing, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(build_mirror(tmp_path_factory.mktemp("mirror"))))
    before = _snapshot(existing)
    real_render = generate_module.render_files

    def render_with_bad_argument(spec):
        files = real_render(spec)
        files["broken.tf"] = 'resource "aws_cloudwatch_log_group" "x" {\n  retention_days = 7\n}\n'
        return files

    monkeypatch.setattr(generate_module, "render_files", render_with_bad_argument)
    with pytest.raises(TerraformError, match="retention_days"):
        generate(_spec(), existing.parent, force=True)
    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []


def test_force_replaces_whole_project(existing):
    changed = _spec(SPEC_TEXT + "logs: {retention_days: 90}\n")
    generate(changed, existing.parent, validate=False, force=True)
    after = _snapshot(existing)
    assert "operator-notes.txt" not in after
    assert b"retention_in_days = 90" in after["cloudwatch.tf"]
    assert _leftovers(existing.parent) == []


def test_project_appearing_midway_kept(tmp_path, monkeypatch):
    target = tmp_path / PROJECT
    real_write = generate_module.write_files

    def write_and_race(root, files):
        real_write(root, files)
        target.mkdir()
        (target / "main.tf").write_text("# written by someone else\n")

    monkeypatch.setattr(generate_module, "write_files", write_and_race)
    with pytest.raises(ProjectExistsError):
        generate(_spec(), tmp_path, validate=False)
    assert _snapshot(target) == {"main.tf": b"# written by someone else\n"}
    assert _leftovers(tmp_path) == []


def test_two_step_fallback_restores_old(existing, monkeypatch):
    before = _snapshot(existing)
    monkeypatch.setattr(generate_module, "_renameat2", lambda *args: False)
    real_replace = generate_module.os.replace
    calls = []

    def fail_second(source, destination):
        calls.append((source, destination))
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real_replace(source, destination)

    monkeypatch.setattr(generate_module.os, "replace", fail_second)
    with pytest.raises(OSError, match="Input/output error"):
        generate(_spec(), existing.parent, validate=False, force=True)
    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []


@pytest.mark.skipif(generate_module._libc_renameat2() is None, reason="renameat2 is Linux only")
def test_forced_replacement_never_missing(existing):
    """A reader polling the project folder always finds it, before, during and after a replacement."""
    observed: list[bool] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                os.listdir(existing)
                observed.append(True)
            except FileNotFoundError:
                observed.append(False)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for _ in range(5):
            generate(_spec(), existing.parent, validate=False, force=True)
    finally:
        stop.set()
        reader.join()
    assert observed
    assert all(observed)


@pytest.mark.parametrize("state_file", ["terraform.tfstate", "terraform.tfstate.backup", ".terraform/terraform.tfstate"])
def test_force_keeps_terraform_state(existing, state_file):
    state = existing / state_file
    state.parent.mkdir(exist_ok=True)
    state.write_text('{"version": 4}\n')
    before = _snapshot(existing)

    with pytest.raises(ProjectExistsError, match="contains Terraform state"):
        generate(_spec(), existing.parent, validate=False, force=True)

    assert _snapshot(existing) == before
    assert _leftovers(existing.parent) == []
