"""Tests for regenerate, check, diff and migrate on real project folders, with real git and Terraform."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tfscaffold import regenerate, terraform
from tfscaffold.cli import main
from tfscaffold.context import spec_to_context
from tfscaffold.errors import SpecError, TerraformNotFoundError
from tfscaffold.generate import generate
from tfscaffold.merge import restore_line_endings
from tfscaffold.project import spec_text
from tfscaffold.projects import RunOptions, run_command
from tfscaffold.render import PROJECT_TEMPLATE, TEMPLATE_ROOT, Renderer
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_file, validate_loaded

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "payment-service.yaml"
MIRROR_SCRIPT = REPO_ROOT / "scripts" / "provider_mirror.py"
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f"

AUDIT_LOG_GROUP = """
resource "aws_cloudwatch_log_group" "audit" {
  name              = "/audit/payment-service-test"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}
"""

V1_SPEC = """\
spec_version: 1
service: {name: pay, environment: test, environment_suffix: test, region: eu-west-1}
container: {image: nginx}
network:
  vpc_cidr: 10.1.0.0/16
  availability_zones: 3
"""


# Helpers ------------------------------------------------------------------


def example_data() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def validated(data: dict) -> dict:
    return validate_loaded(load_spec_text(yaml.safe_dump(data, sort_keys=False), "test spec"))


def write_spec(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def make_project(tmp_path: Path, data: dict | None = None, *, validate: bool = False) -> Path:
    return generate(validated(data or example_data()), tmp_path / "projects", validate=validate)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def keep_my_side(text: str) -> str:
    return re.sub(r"<<<<<<< your version\n(.*?)=======\n.*?>>>>>>> new render\n", r"\1", text, flags=re.S)


def load_mirror_module():
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mirror_config(tmp_path_factory) -> Path:
    try:
        terraform.find_terraform()
        return load_mirror_module().build_mirror(tmp_path_factory.mktemp("provider"))
    except (FileNotFoundError, TerraformNotFoundError) as error:
        pytest.skip(str(error))


@pytest.fixture
def offline_terraform(mirror_config, monkeypatch) -> None:
    """Let Terraform install the AWS provider only from the local mirror."""
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(mirror_config))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
    monkeypatch.delenv(terraform.OVERRIDE_ENV_VAR, raising=False)


@pytest.fixture
def no_terraform(monkeypatch) -> None:
    """Make any attempt to run Terraform fail, so a test proves none was made."""
    monkeypatch.setenv(terraform.OVERRIDE_ENV_VAR, "/nonexistent/terraform")


def copy_templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATE_ROOT / PROJECT_TEMPLATE, root / PROJECT_TEMPLATE)
    return root


# Generation records the base ---------------------------------------------


def test_generate_records_base(tmp_path):
    project = make_project(tmp_path)

    files = snapshot(project)
    generated = {path for path in files if not path.startswith(".tfscaffold/")}
    base = {
        path.removeprefix(".tfscaffold/base/").removesuffix(".base")
        for path in files
        if path.startswith(".tfscaffold/base/")
    }
    assert base == generated
    for path in generated:
        assert files[f".tfscaffold/base/{path}.base"] == files[path]


@pytest.mark.parametrize("certificate", [None, CERTIFICATE], ids=["http", "https"])
def test_cookiecutter_and_generate_write_same_state(tmp_path, monkeypatch, certificate):
    from cookiecutter.main import cookiecutter

    data = example_data()
    if certificate:
        data["load_balancer"] = {"certificate_arn": certificate}
    spec = validated(data)
    context = {key: value for key, value in spec_to_context(spec).items() if key != "spec_version"}
    monkeypatch.setenv("TFSCAFFOLD_NO_VALIDATE", "1")

    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'cache'}\nreplay_dir: {tmp_path / 'replay'}\n")
    output = cookiecutter(
        str(REPO_ROOT), no_input=True, extra_context=context, output_dir=str(tmp_path / "cc"), config_file=str(config)
    )
    generated = generate(spec, tmp_path / "cli", validate=False)

    assert snapshot(Path(output)) == snapshot(generated)
    assert ("https.tf" in snapshot(generated)) == bool(certificate)


# Hand edits and spec changes ---------------------------------------------


@pytest.mark.usefixtures("offline_terraform")
def test_regenerate_keeps_hand_edits(tmp_path, capsys):
    project = make_project(tmp_path, validate=True)
    assert run_cli(capsys, "check", str(project))[0] == 0
    (project / "cloudwatch.tf").write_text((project / "cloudwatch.tf").read_text() + AUDIT_LOG_GROUP)
    edit(project / "alb.tf", "deregistration_delay = 30", "deregistration_delay = 60")
    edit(project / "ecs.tf", "# ECS Fargate cluster", "# Reviewed by the platform team.\n# ECS Fargate cluster")
    (project / "outputs.tf").unlink()
    data = example_data()
    data["autoscaling"]["max_capacity"] = 9
    data["logs"]["retention_days"] = 90
    new_spec = write_spec(tmp_path / "new.yaml", data)

    code, out, err = run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec))

    assert code == 0, err
    assert "updated" in out
    cloudwatch = (project / "cloudwatch.tf").read_text()
    assert AUDIT_LOG_GROUP.strip() in cloudwatch
    assert "retention_in_days = 90" in cloudwatch
    assert "expiring after\n# 90 days" in cloudwatch
    assert (project / "alb.tf").read_text().count("deregistration_delay = 60") == 2
    assert (project / "ecs.tf").read_text().startswith("# Reviewed by the platform team.\n")
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 9") == 2
    assert not (project / "outputs.tf").exists()
    assert "max_capacity: 9" in (project / ".tfscaffold" / "spec.yaml").read_text()
    assert not (project / ".tfscaffold" / "pending").exists()
    assert not (project / ".terraform").exists()
    tf = terraform.find_terraform()
    assert terraform.fmt(tf, project, check=True) == []
    terraform.validate(tf, project)


@pytest.mark.usefixtures("offline_terraform")
def test_regenerate_applies_template_change(tmp_path):
    project = make_project(tmp_path)
    templates = copy_templates(tmp_path)
    edit(templates / PROJECT_TEMPLATE / "alb.tf", "deregistration_delay = 30", "deregistration_delay = 45")
    outputs_template = templates / PROJECT_TEMPLATE / "outputs.tf"
    edit(outputs_template, '"DNS name of the load balancer."', '"Public DNS name of the ALB."')
    (templates / PROJECT_TEMPLATE / "naming.tf").write_text(
        '{% set m = cookiecutter | tfscaffold_model -%}\noutput "name_prefix" {\n'
        '  description = "Prefix of every resource name."\n  value       = local.name_prefix\n}\n'
    )
    edit(project / "alb.tf", "# Application load balancer", "# Owned by team payments.\n# Application load balancer")
    edit(project / "autoscaling.tf", "scale_in_cooldown  = 300", "scale_in_cooldown  = 600")
    (project / "outputs.tf").unlink()

    results = run_command("regenerate", [str(project)], RunOptions(renderer=Renderer(templates)), show_progress=False)

    assert [r.status for r in results] == ["updated"]
    alb = (project / "alb.tf").read_text()
    assert alb.count("deregistration_delay = 45") == 2
    assert alb.startswith("# Owned by team payments.\n")
    assert (project / "autoscaling.tf").read_text().count("scale_in_cooldown  = 600") == 2
    assert "local.name_prefix" in (project / "naming.tf").read_text()
    assert not (project / "outputs.tf").exists()
    assert results[0].added == ["naming.tf"]
    assert results[0].left_deleted == ["outputs.tf"]
    outputs_base = (project / ".tfscaffold" / "base" / "outputs.tf.base").read_text()
    assert "DNS name of the load balancer." in outputs_base
    assert "Public DNS name" not in outputs_base


def test_template_dropping_files(tmp_path):
    project = make_project(tmp_path)
    templates = copy_templates(tmp_path)
    (templates / PROJECT_TEMPLATE / "outputs.tf").unlink()
    (templates / PROJECT_TEMPLATE / "providers.tf").unlink()
    edit(project / "providers.tf", "region = var.region", "region = var.region\n  # pinned by ops")
    (templates / PROJECT_TEMPLATE / "extra.tf").write_text("# generated extra\n")
    (project / "extra.tf").write_text("# my own extra file\n")
    options = RunOptions(renderer=Renderer(templates), validate=False)

    [result] = run_command("regenerate", [str(project)], options, show_progress=False)

    assert not (project / "outputs.tf").exists()
    assert "pinned by ops" in (project / "providers.tf").read_text()
    assert result.removed == ["outputs.tf"]
    assert result.kept_edited == ["providers.tf"]
    assert result.conflicts == ["extra.tf"]
    extra = (project / "extra.tf").read_text()
    assert extra.startswith("<<<<<<< your version\n# my own extra file\n=======\n# generated extra\n")


def test_crlf_file_keeps_line_endings(tmp_path, capsys):
    project = make_project(tmp_path)
    alb = project / "alb.tf"
    alb.write_bytes(alb.read_bytes().replace(b"deregistration_delay = 30", b"deregistration_delay = 60")
                    .replace(b"\n", b"\r\n"))
    edit(project / ".tfscaffold" / "spec.yaml", "health_check_path: /health", "health_check_path: /ready")

    code, out, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert "1 changed" in out
    text = alb.read_bytes()
    assert text.count(b"deregistration_delay = 60\r\n") == 2
    assert text.count(b'path                = "/ready"\r\n') == 2
    assert b"\n" not in text.replace(b"\r\n", b"")
    assert run_cli(capsys, "check", str(project))[0] == 0


# Conflicts ----------------------------------------------------------------


def conflicting_project(tmp_path: Path) -> tuple[Path, Path]:
    """Return a project whose hand edit conflicts with a spec change, and the new spec."""
    project = make_project(tmp_path)
    edit(project / "autoscaling.tf", "max_capacity       = 6", "max_capacity       = 5")
    edit(project / "ecs.tf", "# ECS Fargate cluster", "# Reviewed.\n# ECS Fargate cluster")
    data = example_data()
    data["autoscaling"]["max_capacity"] = 7
    data["logs"]["retention_days"] = 90
    return project, write_spec(tmp_path / "new.yaml", data)


def test_conflict_writes_markers_and_keeps_state(tmp_path, capsys):
    project, new_spec = conflicting_project(tmp_path)
    state_before = {k: v for k, v in snapshot(project).items() if k.startswith(".tfscaffold/")}

    code, out, err = run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")

    assert code == 1
    assert "conflict" in out
    assert "conflict markers written to autoscaling.tf" in err
    autoscaling = (project / "autoscaling.tf").read_text()
    assert autoscaling.count("<<<<<<< your version\n  max_capacity       = 5\n=======\n") == 2
    assert "max_capacity       = 7\n>>>>>>> new render\n" in autoscaling
    assert (project / "ecs.tf").read_text().startswith("# Reviewed.\n")
    assert "retention_in_days = 90" in (project / "cloudwatch.tf").read_text()
    state_after = {k: v for k, v in snapshot(project).items() if k.startswith(".tfscaffold/")}
    assert {k: v for k, v in state_after.items() if not k.startswith(".tfscaffold/pending/")} == state_before
    assert run_cli(capsys, "check", str(project))[0] == 1


def test_conflict_resolved_then_recorded(tmp_path, capsys):
    project, new_spec = conflicting_project(tmp_path)
    run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")
    blocked = snapshot(project)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")
    assert code == 1
    assert "conflict markers remain in autoscaling.tf" in err
    assert snapshot(project) == blocked

    (project / "autoscaling.tf").write_text(keep_my_side((project / "autoscaling.tf").read_text()))
    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 5") == 2
    assert "max_capacity: 7" in (project / ".tfscaffold" / "spec.yaml").read_text()
    assert "max_capacity       = 7" in (project / ".tfscaffold" / "base" / "autoscaling.tf.base").read_text()
    assert not (project / ".tfscaffold" / "pending").exists()
    assert run_cli(capsys, "check", str(project))[0] == 0


def test_abort_restores_files(tmp_path, capsys):
    project, new_spec = conflicting_project(tmp_path)
    before = snapshot(project)
    run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")

    code, out, _ = run_cli(capsys, "regenerate", str(project), "--abort")

    assert code == 0
    assert "aborted" in out
    assert snapshot(project) == before


def test_undo_by_hand_drops_pending(tmp_path, capsys):
    project, new_spec = conflicting_project(tmp_path)
    before = snapshot(project)
    run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")
    for path, content in before.items():
        (project / path).write_bytes(content)

    code, _, err = run_cli(capsys, "check", str(project))

    assert code == 1
    assert "dropped the pending regeneration" in err
    assert "regenerating would write conflict markers into autoscaling.tf" not in err


# Optional features, check, diff and repeat runs ----------------------------


@pytest.mark.usefixtures("offline_terraform")
def test_dropped_feature_loses_file(tmp_path, capsys):
    data = example_data()
    data["load_balancer"] = {"certificate_arn": CERTIFICATE}
    project = make_project(tmp_path, data, validate=True)
    assert "aws_lb_listener" in (project / "https.tf").read_text()
    del data["load_balancer"]
    new_spec = write_spec(tmp_path / "http.yaml", data)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec))

    assert code == 0, err
    assert not (project / "https.tf").exists()
    assert not (project / ".tfscaffold" / "base" / "https.tf.base").exists()
    assert 'resource "aws_lb_listener" "http"' in (project / "alb.tf").read_text()


def test_dropped_feature_keeps_edited_file(tmp_path):
    data = example_data()
    data["load_balancer"] = {"certificate_arn": CERTIFICATE}
    project = make_project(tmp_path, data)
    edit(project / "https.tf", "ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS13-1-2-2021-06")
    del data["load_balancer"]
    options = RunOptions(spec_file=write_spec(tmp_path / "http.yaml", data), validate=False)

    [result] = run_command("regenerate", [str(project)], options, show_progress=False)

    assert result.kept_edited == ["https.tf"]
    assert "TLS13" in (project / "https.tf").read_text()


@pytest.mark.usefixtures("no_terraform")
def test_check_fresh_and_stale(tmp_path, capsys):
    project = make_project(tmp_path)
    assert run_cli(capsys, "check", str(project))[0] == 0

    edit(project / "alb.tf", "deregistration_delay = 30", "deregistration_delay = 60")
    assert run_cli(capsys, "check", str(project))[0] == 0

    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    before = snapshot(project)
    code, out, _ = run_cli(capsys, "check", str(project))

    assert code == 1
    assert "stale" in out
    assert "1 changed" in out
    assert snapshot(project) == before


@pytest.mark.usefixtures("no_terraform")
def test_diff_prints_changes(tmp_path, capsys):
    project = make_project(tmp_path)
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    before = snapshot(project)

    code, out, err = run_cli(capsys, "diff", str(project))

    assert code == 1
    assert f"--- {project.as_posix()}/autoscaling.tf\n" in out
    assert "-  max_capacity       = 6\n+  max_capacity       = 8\n" in out
    assert "stale" in err
    assert snapshot(project) == before


@pytest.mark.usefixtures("no_terraform")
def test_regenerate_twice_changes_nothing(tmp_path, capsys):
    project = make_project(tmp_path)
    edit(project / "alb.tf", "deregistration_delay = 30", "deregistration_delay = 60")
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    assert run_cli(capsys, "regenerate", str(project), "--no-validate")[0] == 0
    first = snapshot(project)
    times = {p: p.stat().st_mtime_ns for p in project.rglob("*")}

    code, out, _ = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0
    assert "unchanged" in out
    assert snapshot(project) == first
    assert {p: p.stat().st_mtime_ns for p in project.rglob("*")} == times


@pytest.mark.usefixtures("offline_terraform")
def test_failed_validation_changes_nothing(tmp_path, capsys):
    project = make_project(tmp_path)
    edit(project / "alb.tf", "drop_invalid_header_fields = true", "drop_invalid_header_fields = true\n  colour = 1")
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    before = snapshot(project)

    code, out, err = run_cli(capsys, "regenerate", str(project))

    assert code == 1
    assert "failed" in out
    assert 'An argument named "colour" is not expected here' in err
    assert snapshot(project) == before


# Many projects --------------------------------------------------------------


@pytest.mark.usefixtures("no_terraform")
def test_many_projects_with_broken_one(tmp_path, capsys):
    good = make_project(tmp_path)
    data = example_data()
    data["service"]["name"] = "broken-service"
    broken = make_project(tmp_path, data)
    (broken / ".tfscaffold" / "spec.yaml").write_text("spec_version: 2\nservice: [\n")
    edit(good / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    (tmp_path / "projects" / "notes").mkdir()

    folders = [str(tmp_path / "projects" / "*"), str(tmp_path / "projects" / "notes")]
    code, out, err = run_cli(capsys, "regenerate", *folders, "--no-validate", "--json")

    report = json.loads(out)
    statuses = {Path(entry["project"]).name: entry["status"] for entry in report["projects"]}
    assert code == 2
    assert report["exit_code"] == 2
    assert statuses == {"broken-service-test": "invalid", "payment-service-test": "updated", "notes": "invalid"}
    assert "invalid YAML" in err
    assert "not a tfscaffold project: .tfscaffold/spec.yaml not found" in err
    assert "[3/3]" in err
    assert (good / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2


def test_glob_without_project(tmp_path, capsys):
    make_project(tmp_path)

    code, out, _ = run_cli(capsys, "check", str(tmp_path / "nothing-*"))

    assert code == 2
    assert "no tfscaffold project matches" in out


def test_spec_for_many_projects_rejected(tmp_path, capsys):
    make_project(tmp_path)
    data = example_data()
    data["service"]["name"] = "other-service"
    make_project(tmp_path, data)

    code, _, err = run_cli(capsys, "regenerate", str(tmp_path / "projects" / "*"), "--spec", str(EXAMPLE))

    assert code == 2
    assert "--spec applies to one project, but 2 projects were given" in err


# Spec versions --------------------------------------------------------------


def test_v1_spec_migrates_in_memory(tmp_path):
    v1 = tmp_path / "v1.yaml"
    v1.write_text(V1_SPEC)

    spec = validate_file(v1)

    assert spec["spec_version"] == 2
    assert spec["network"] == {"vpc_cidr": "10.1.0.0/16", "zone_count": 3}
    assert v1.read_text() == V1_SPEC


def test_v1_error_points_at_written_line(tmp_path):
    v1 = tmp_path / "v1.yaml"
    v1.write_text(V1_SPEC.replace("availability_zones: 3", "availability_zones: 7"))

    with pytest.raises(SpecError) as caught:
        validate_file(v1)

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{v1}:6:23: network.zone_count: invalid value 7")


def test_future_spec_version_rejected(tmp_path, capsys):
    project = make_project(tmp_path)
    edit(project / ".tfscaffold" / "spec.yaml", "spec_version: 2", "spec_version: 3")
    before = snapshot(project)

    code, out, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 2
    assert "invalid" in out
    assert "spec_version: 3 is newer than the newest version this tfscaffold reads (2); upgrade tfscaffold" in err
    assert snapshot(project) == before


@pytest.mark.usefixtures("no_terraform")
def test_stored_v1_spec_rewritten_only_on_request(tmp_path, capsys):
    v1 = tmp_path / "v1.yaml"
    v1.write_text(V1_SPEC)
    spec = validate_file(v1)
    project = generate(spec, tmp_path / "projects", validate=False)
    stored = project / ".tfscaffold" / "spec.yaml"
    stored.write_text(V1_SPEC)

    assert run_cli(capsys, "check", str(project))[0] == 0
    assert run_cli(capsys, "regenerate", str(project), "--no-validate")[0] == 0
    assert stored.read_text() == V1_SPEC

    code, out, _ = run_cli(capsys, "migrate", str(project))

    assert code == 0
    assert "migrated" in out
    assert stored.read_text() == spec_text(spec)
    assert "spec_version: 2\n" in stored.read_text()
    assert "  zone_count: 3\n" in stored.read_text()
    assert "availability_zones" not in stored.read_text()
    assert run_cli(capsys, "migrate", str(project))[1].count("unchanged") == 1
    assert run_cli(capsys, "check", str(project))[0] == 0


@pytest.mark.usefixtures("no_terraform")
def test_write_spec_migrates_during_regenerate(tmp_path, capsys):
    v1 = tmp_path / "v1.yaml"
    v1.write_text(V1_SPEC)
    spec = validate_file(v1)
    project = generate(spec, tmp_path / "projects", validate=False)
    stored = project / ".tfscaffold" / "spec.yaml"
    stored.write_text(V1_SPEC)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--write-spec", "--no-validate")

    assert code == 0, err
    assert stored.read_text() == spec_text(spec)


# Older projects and specs -----------------------------------------------------


@pytest.mark.usefixtures("no_terraform")
def test_project_without_base_regenerates(tmp_path, capsys):
    project = make_project(tmp_path)
    shutil.rmtree(project / ".tfscaffold" / "base")
    edit(project / "alb.tf", "deregistration_delay = 30", "deregistration_delay = 60")
    data = example_data()
    data["autoscaling"]["max_capacity"] = 8
    new_spec = write_spec(tmp_path / "new.yaml", data)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")
    assert code == 2
    assert "no .tfscaffold/base/ records what was generated; pass the spec to apply with --spec" in err

    code, _, err = run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")

    assert code == 0, err
    assert "no .tfscaffold/base/ found" in err
    assert (project / "alb.tf").read_text().count("deregistration_delay = 60") == 2
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2
    assert (project / ".tfscaffold" / "base" / "alb.tf.base").is_file()


def test_render_is_unchanged_by_migration():
    data = example_data()
    v1 = copy.deepcopy(data)
    v1["spec_version"] = 1
    v1["network"] = {"availability_zones": 3}
    data["network"] = {"zone_count": 3}

    renderer = Renderer()
    assert renderer.render(spec_to_context(validated(v1))) == renderer.render(spec_to_context(validated(data)))


# Damaged or hostile state folders --------------------------------------------


@pytest.mark.usefixtures("no_terraform")
def test_stray_base_files_ignored(tmp_path, capsys):
    project = make_project(tmp_path)
    base_dir = project / ".tfscaffold" / "base"
    (base_dir / ".gitkeep").write_text("")
    (base_dir / "notes.txt").write_text("kept by hand\n")
    (base_dir / ".base").write_text("no file name\n")
    assert run_cli(capsys, "check", str(project))[0] == 0
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")

    code, out, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert "updated" in out
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2
    assert (base_dir / ".gitkeep").read_text() == ""
    assert (base_dir / "notes.txt").read_text() == "kept by hand\n"
    assert (base_dir / ".base").is_file()
    assert not (project / ".gitkeep").exists()
    assert run_cli(capsys, "check", str(project))[0] == 0


def write_manifest(project: Path, manifest: object) -> Path:
    pending = project / ".tfscaffold" / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    path = pending / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize(
    "path",
    ["../../victim.txt", "{outside}/victim.txt", "ok/../../../victim.txt", "./alb.tf", ".tfscaffold/spec.yaml", ""],
    ids=["parent", "absolute", "inner-parent", "not-normal", "state-folder", "empty"],
)
@pytest.mark.parametrize("text", ["written by --abort\n", None], ids=["write", "delete"])
def test_abort_rejects_bad_manifest_path(tmp_path, capsys, path, text):
    project = make_project(tmp_path)
    outside = tmp_path / "projects"
    victim = outside / "victim.txt"
    victim.write_text("keep\n")
    manifest = write_manifest(project, {
        "conflicts": [], "undo_evidence": [], "originals": {path.format(outside=outside): text},
    })
    before = snapshot(tmp_path)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--abort")

    assert code == 2
    assert f"{manifest}: invalid manifest of a regeneration with conflicts: originals: invalid path" in err
    assert "restore the files it changed from version control" in err
    assert snapshot(tmp_path) == before


def test_abort_rejects_linked_folder(tmp_path, capsys):
    project = make_project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.tf").write_text("keep\n")
    (project / "linked").symlink_to(outside)
    write_manifest(project, {"conflicts": [], "undo_evidence": [], "originals": {
        "alb.tf": "# restored\n", "linked/victim.tf": None, "linked/new.tf": "# written\n",
    }})
    before = snapshot(tmp_path)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--abort")

    assert code == 2
    assert f"{project / 'linked'}: is a symbolic link on the path of the generated file linked/" in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "manifest, problem",
    [
        ([], "expected a JSON object, got list"),
        ({"conflicts": [], "originals": {}}, "missing key 'undo_evidence'"),
        ({"conflicts": [], "undo_evidence": [], "originals": {"alb.tf": 7}}, "originals['alb.tf']: expected text or null, got int 7"),
        ({"conflicts": [], "undo_evidence": [], "originals": ["alb.tf"]}, "originals: expected an object of path to text, got list"),
        ({"conflicts": [3], "undo_evidence": [], "originals": {}}, "conflicts: expected a path as a string, got int 3"),
        ({"conflicts": "alb.tf", "undo_evidence": [], "originals": {}}, "conflicts: expected a list of paths, got str"),
        ({"conflicts": ["alb.tf"], "undo_evidence": [], "originals": {}}, "conflicts: 'alb.tf' is not among the originals"),
        ({"conflicts": [], "undo_evidence": [None], "originals": {}}, "undo_evidence: expected a path as a string, got NoneType None"),
    ],
    ids=["list", "missing-key", "int-original", "originals-list", "int-conflict", "conflicts-text", "unknown-conflict",
         "null-evidence"],
)
@pytest.mark.parametrize("command", [["regenerate", "--no-validate"], ["check"], ["diff"], ["regenerate", "--abort"]],
                         ids=["regenerate", "check", "diff", "abort"])
def test_manifest_types_checked(tmp_path, capsys, manifest, problem, command):
    project = make_project(tmp_path)
    path = write_manifest(project, manifest)
    before = snapshot(project)

    code, _, err = run_cli(capsys, command[0], str(project), *command[1:])

    assert code == 2
    assert f"{path}: invalid manifest of a regeneration with conflicts: {problem}." in err
    assert "Traceback" not in err
    assert snapshot(project) == before


def test_manifest_invalid_json(tmp_path, capsys):
    project = make_project(tmp_path)
    path = write_manifest(project, {})
    path.write_text("{not json")

    code, _, err = run_cli(capsys, "regenerate", str(project), "--abort")

    assert code == 2
    assert f"{path}: invalid manifest of a regeneration with conflicts: Expecting property name" in err


def test_linked_state_folder_rejected(tmp_path, capsys):
    project = make_project(tmp_path)
    outside = tmp_path / "outside-base"
    shutil.move(project / ".tfscaffold" / "base", outside)
    (project / ".tfscaffold" / "base").symlink_to(outside)
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    before = snapshot(outside)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 2
    assert f"{project / '.tfscaffold' / 'base'}: is a symbolic link; .tfscaffold/ may contain only regular files" in err
    assert snapshot(outside) == before
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 6") == 2


def test_base_entry_in_state_folder_rejected(tmp_path, capsys):
    project = make_project(tmp_path)
    entry = project / ".tfscaffold" / "base" / ".tfscaffold" / "spec.yaml.base"
    entry.parent.mkdir()
    entry.write_text((project / ".tfscaffold" / "spec.yaml").read_text())

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 2
    assert f"{entry}: invalid path '.tfscaffold/spec.yaml': tfscaffold generates no file in .tfscaffold/; delete this file" in err
    assert (project / ".tfscaffold" / "spec.yaml").is_file()


# Links and folders outside the project ----------------------------------------


UNFORMATTED_LOCALS = 'locals {\nteam="core"\n}\n'


@pytest.mark.parametrize("command", [["regenerate", "--no-validate"], ["check"], ["diff"]])
@pytest.mark.parametrize("relative", [True, False], ids=["relative-link", "absolute-link"])
def test_linked_generated_file_rejected(tmp_path, capsys, command, relative):
    project = make_project(tmp_path)
    shared = tmp_path / "shared" / "variables.tf"
    shared.parent.mkdir()
    shutil.move(project / "variables.tf", shared)
    target = Path("../../shared/variables.tf") if relative else shared
    (project / "variables.tf").symlink_to(target)
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")
    shared_before = shared.read_bytes()

    code, _, err = run_cli(capsys, command[0], str(project), *command[1:])

    assert code == 2
    assert f"{project / 'variables.tf'}: is a symbolic link on the path of the generated file variables.tf" in err
    assert "replace the link with a regular file" in err
    assert shared.read_bytes() == shared_before
    assert (project / "variables.tf").is_symlink()
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 6") == 2


@pytest.mark.usefixtures("offline_terraform")
def test_validation_copy_follows_links(tmp_path, capsys):
    project = make_project(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "common.tf").write_text(UNFORMATTED_LOCALS)
    (shared / "policy.json").write_text("{}\n")
    (project / "common.tf").symlink_to(shared / "common.tf")
    (project / "policy.json").symlink_to("../../shared/policy.json")
    (project / "loop").symlink_to(".")
    (project / "missing.txt").symlink_to("../../shared/missing.txt")
    (project / "policy.tf").write_text('output "policy" {\n  value = file("${path.module}/policy.json")\n}\n')
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")

    code, out, err = run_cli(capsys, "regenerate", str(project))

    assert code == 0, err
    assert "updated" in out
    assert (shared / "common.tf").read_text() == UNFORMATTED_LOCALS
    assert (project / "common.tf").is_symlink()
    assert (project / "policy.json").is_symlink()
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2
    assert sorted(p.name for p in project.parent.iterdir()) == ["payment-service-test"]


@pytest.mark.usefixtures("offline_terraform")
def test_sibling_module_validates(tmp_path, capsys):
    project = make_project(tmp_path)
    module = tmp_path / "projects" / "modules" / "extra"
    module.mkdir(parents=True)
    (module / "main.tf").write_text('variable "n" {\n  type = string\n}\n')
    (project / "extra.tf").write_text('module "extra" {\n  source = "../modules/extra"\n  n      = "x"\n}\n')
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")

    code, _, err = run_cli(capsys, "regenerate", str(project))

    assert code == 0, err
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2
    assert sorted(p.name for p in project.parent.iterdir()) == ["modules", "payment-service-test"]

    (project / "extra.tf").write_text('module "extra" {\n  source = "../modules/extra"\n}\n')
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 8", "max_capacity: 9")

    code, _, err = run_cli(capsys, "regenerate", str(project))

    assert code == 1
    assert 'The argument "n" is required' in err
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2


# Interrupted regenerations ------------------------------------------------------


def interrupt_write(monkeypatch, function: str, call: int) -> None:
    """Make the given call of a file-writing function in tfscaffold.regenerate raise KeyboardInterrupt."""
    real = getattr(regenerate, function)
    calls = []

    def interrupted(*args):
        calls.append(args)
        if len(calls) == call:
            raise KeyboardInterrupt(f"simulated Ctrl-C in call {call} of {function}")
        return real(*args)

    monkeypatch.setattr(regenerate, function, interrupted)


def interrupted_conflict(tmp_path, monkeypatch, function: str, call: int) -> tuple[Path, Path, dict[str, bytes]]:
    """Return a project whose conflicted regeneration was interrupted, the new spec and the files before."""
    project, new_spec = conflicting_project(tmp_path)
    before = snapshot(project)
    plan = regenerate.plan_regeneration(project, spec_file=new_spec)
    assert list(plan.writes) == ["README.md", "autoscaling.tf", "cloudwatch.tf"]
    assert plan.conflicts == ["autoscaling.tf"]
    with monkeypatch.context() as patch:
        interrupt_write(patch, function, call)
        with pytest.raises(KeyboardInterrupt):
            regenerate.apply_plan(plan, validate=False)
    return project, new_spec, before


@pytest.mark.parametrize("command", ["regenerate", "check", "diff"])
def test_half_written_conflict_reported(tmp_path, capsys, monkeypatch, command):
    project, _, before = interrupted_conflict(tmp_path, monkeypatch, "replace_file", 2)
    half_written = snapshot(project)
    assert half_written != before

    code, out, err = run_cli(capsys, command, str(project), *(["--no-validate"] if command == "regenerate" else []))

    assert code == 1
    assert "failed" in (out + err)
    assert "was interrupted before it wrote all its files (not written: " in err
    assert "Run tfscaffold regenerate --abort to restore every file it changed" in err
    assert snapshot(project) == half_written


def test_half_written_conflict_aborted(tmp_path, capsys, monkeypatch):
    project, new_spec, before = interrupted_conflict(tmp_path, monkeypatch, "replace_file", 2)

    code, out, err = run_cli(capsys, "regenerate", str(project), "--abort")

    assert code == 0, err
    assert "aborted" in out
    assert snapshot(project) == before

    code, _, err = run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")

    assert code == 1
    assert "conflict markers written to autoscaling.tf" in err


def test_half_written_conflict_edited_later(tmp_path, capsys, monkeypatch):
    project, _, _ = interrupted_conflict(tmp_path, monkeypatch, "replace_file", 3)
    autoscaling = project / "autoscaling.tf"
    resolved = re.sub(r"<<<<<<< .*?>>>>>>> new render\n", "  max_capacity       = 8\n", autoscaling.read_text(), flags=re.S)
    autoscaling.write_text(resolved)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 1
    assert "(not written: cloudwatch.tf; changed since: autoscaling.tf)" in err
    assert (project / ".tfscaffold" / "pending" / "manifest.json").is_file()
    assert "max_capacity: 6" in (project / ".tfscaffold" / "spec.yaml").read_text()


def test_conflict_interrupted_before_writing(tmp_path, capsys, monkeypatch):
    project, _, before = interrupted_conflict(tmp_path, monkeypatch, "replace_file", 1)
    assert (project / ".tfscaffold" / "pending" / "manifest.json").is_file()

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert "dropped the pending regeneration: it was interrupted before it changed any file" in err
    assert snapshot(project) == before


def test_conflict_interrupted_after_writing(tmp_path, capsys, monkeypatch):
    project, _, _ = interrupted_conflict(tmp_path, monkeypatch, "mark_pending_complete", 1)
    manifest = json.loads((project / ".tfscaffold" / "pending" / "manifest.json").read_text())
    assert manifest["complete"] is False

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")
    assert code == 1
    assert "conflict markers remain in autoscaling.tf" in err

    autoscaling = project / "autoscaling.tf"
    autoscaling.write_text(keep_my_side(autoscaling.read_text()))
    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert "recorded the pending regeneration" in err
    assert "max_capacity: 7" in (project / ".tfscaffold" / "spec.yaml").read_text()
    assert run_cli(capsys, "check", str(project))[0] == 0


def test_conflict_marks_manifest_complete(tmp_path, capsys):
    project, new_spec = conflicting_project(tmp_path)
    before = snapshot(project)

    run_cli(capsys, "regenerate", str(project), "--spec", str(new_spec), "--no-validate")

    manifest = json.loads((project / ".tfscaffold" / "pending" / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert sorted(manifest["results"]) == sorted(manifest["originals"])
    for path, text in manifest["results"].items():
        assert (project / path).read_text() == text
    for path, text in manifest["originals"].items():
        assert before[path].decode() == text


# Deleted generated files -------------------------------------------------------


@pytest.mark.usefixtures("no_terraform")
def test_restored_file_gets_change(tmp_path, capsys):
    project = make_project(tmp_path)
    autoscaling = project / "autoscaling.tf"
    saved = autoscaling.read_text()
    edit(project / "autoscaling.tf", "scale_in_cooldown  = 300", "scale_in_cooldown  = 600")
    edited = autoscaling.read_text()
    autoscaling.unlink()
    base_file = project / ".tfscaffold" / "base" / "autoscaling.tf.base"
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")

    code, out, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert "left deleted: autoscaling.tf" in out
    assert not autoscaling.exists()
    assert base_file.read_text() == saved
    assert run_cli(capsys, "check", str(project))[0] == 0
    unchanged = snapshot(project)
    code, out, _ = run_cli(capsys, "regenerate", str(project), "--no-validate")
    assert code == 0
    assert "unchanged" in out
    assert snapshot(project) == unchanged

    autoscaling.write_text(edited)
    code, out, _ = run_cli(capsys, "check", str(project))
    assert code == 1
    assert "stale" in out

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert autoscaling.read_text().count("max_capacity       = 8") == 2
    assert autoscaling.read_text().count("scale_in_cooldown  = 600") == 2
    assert "max_capacity       = 8" in base_file.read_text()
    assert run_cli(capsys, "check", str(project))[0] == 0


# Line endings -----------------------------------------------------------------


@pytest.mark.parametrize(
    "original, merged, expected",
    [
        ("a\nb\n", "a\nX\nb\n", "a\nX\nb\n"),
        ("a\r\nb\r\n", "a\nX\nb\n", "a\r\nX\r\nb\r\n"),
        ("a\nb\r\nc\n", "a\nX\nb\nc\nd\n", "a\nX\nb\r\nc\nd\n"),
        ("a\r\nb\nc\r\n", "a\nb\nX\nc\n", "a\r\nb\nX\r\nc\r\n"),
        ("a\r\nb", "a\nb\nc", "a\r\nb\r\nc"),
        ("a\r\nb\n", "a\nX\nb\n", "a\r\nX\nb\n"),
        ("}\r\n}\n", "}\n}\n}\n", "}\r\n}\n}\n"),
    ],
    ids=["lf", "crlf", "one-crlf-line", "one-lf-line", "no-final-newline", "tie", "repeated-lines"],
)
def test_restore_line_endings(original, merged, expected):
    assert restore_line_endings(original, merged) == expected


@pytest.mark.usefixtures("no_terraform")
def test_crlf_line_keeps_file_lf(tmp_path, capsys):
    project = make_project(tmp_path)
    alb = project / "alb.tf"
    alb.write_bytes(alb.read_bytes() + b"# pasted note\r\n")
    edit(project / ".tfscaffold" / "spec.yaml", "health_check_path: /health", "health_check_path: /ready")

    code, diff, _ = run_cli(capsys, "diff", str(project))
    assert code == 1
    changed = [line for line in diff.splitlines(keepends=True) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed
    assert all(line.endswith("\n") and not line.endswith("\r\n") for line in changed)

    code, _, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    text = alb.read_bytes()
    assert text.count(b"\r\n") == 1
    assert text.endswith(b"# pasted note\r\n")
    assert text.count(b'path                = "/ready"\n') == 2


@pytest.mark.usefixtures("no_terraform")
def test_diff_shows_written_line_endings(tmp_path, capsys):
    project = make_project(tmp_path)
    alb = project / "alb.tf"
    alb.write_bytes(alb.read_bytes().replace(b"\n", b"\r\n"))
    edit(project / ".tfscaffold" / "spec.yaml", "health_check_path: /health", "health_check_path: /ready")

    code, diff, _ = run_cli(capsys, "diff", str(project))

    assert code == 1
    added = [line for line in diff.splitlines(keepends=True) if line.startswith("+") and not line.startswith("+++")]
    assert added
    assert all(line.endswith("\r\n") for line in added)
    before = alb.read_bytes()
    assert run_cli(capsys, "regenerate", str(project), "--no-validate")[0] == 0
    written = [line for line in alb.read_bytes().splitlines(keepends=True) if line not in before.splitlines(keepends=True)]
    assert sorted(written) == sorted(line[1:].encode() for line in added)


@pytest.mark.usefixtures("no_terraform")
@pytest.mark.parametrize("folder", ["team[1]", "team*", "what?"])
def test_existing_path_not_globbed(tmp_path, capsys, folder):
    project = make_project(tmp_path / folder)
    decoy = make_project(tmp_path / "team1")
    edit(project / ".tfscaffold" / "spec.yaml", "max_capacity: 6", "max_capacity: 8")

    code, out, err = run_cli(capsys, "regenerate", str(project), "--no-validate")

    assert code == 0, err
    assert f"{project}  updated" in out
    assert (project / "autoscaling.tf").read_text().count("max_capacity       = 8") == 2
    assert str(decoy) not in out
