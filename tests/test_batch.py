"""Tests for generating many specs in one run, and for the provider plugin cache that run shares."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tfscaffold import batch
from tfscaffold.batch import BatchReport, Outcome, expand_arguments, generate_batch, is_single_spec
from tfscaffold.plugin_cache import CACHE_DIR_VARIABLE, MAY_BREAK_LOCK_FILE_VARIABLE, shared_plugin_cache

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "payment-service.yaml"
MIRROR_SCRIPT = REPO_ROOT / "scripts" / "provider_mirror.py"
PROVIDER_DIR = ".terraform/providers/registry.terraform.io/hashicorp/aws/3.39.0/linux_amd64"
PROVIDER_BINARY = "terraform-provider-aws_v3.39.0_x5"

INVALID_SPEC = "spec_version: 1\nservice: {name: Bad}\n"

# Runs the real terraform, then records where the provider of a finished init
# lives and how many bytes .terraform allocates, not counting what symlinks point to.
TERRAFORM_WRAPPER = """\
#!{python}
import json, os, subprocess, sys

code = subprocess.call([{terraform!r}, *sys.argv[1:]])
if sys.argv[1:2] == ["init"] and code == 0:
    binary = os.path.join({provider_dir!r}, {provider_binary!r})
    status = os.stat(binary)
    allocated = 0
    for root, folders, files in os.walk(".terraform"):
        for name in folders + files:
            allocated += os.lstat(os.path.join(root, name)).st_blocks * 512
    record = {{
        "inode": [status.st_dev, status.st_ino],
        "realpath": os.path.realpath(binary),
        "allocated": allocated,
    }}
    with open({log!r}, "a") as log:
        log.write(json.dumps(record) + "\\n")
sys.exit(code)
"""


def write_spec(folder: Path, name: str, suffix: str = "test") -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["service"]["name"] = name
    data["service"]["environment_suffix"] = suffix
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{suffix}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command_env = dict(os.environ if env is None else env)
    command_env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "tfscaffold", *args],
        cwd=REPO_ROOT,
        env=command_env,
        capture_output=True,
        text=True,
        check=False,
    )


def project_files(project: Path) -> dict[str, bytes]:
    return {path.relative_to(project).as_posix(): path.read_bytes() for path in project.rglob("*") if path.is_file()}


def test_expand_folder_reads_yaml_only(tmp_path):
    specs = tmp_path / "specs"
    first = write_spec(specs, "alpha")
    second = specs / "beta.yml"
    second.write_text(first.read_text())
    (specs / "notes.txt").write_text("not a spec")
    write_spec(specs / "nested", "gamma")

    files, unmatched = expand_arguments([str(specs)])

    assert files == [first, second]
    assert unmatched == []


def test_expand_glob_and_repeats(tmp_path):
    first = write_spec(tmp_path, "alpha")
    second = write_spec(tmp_path / "nested", "beta")

    files, unmatched = expand_arguments([str(tmp_path / "**" / "*.yaml"), str(first)])

    assert files == [first, second]
    assert unmatched == []


def test_expand_reports_unmatched(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    pattern = str(tmp_path / "*.yaml")

    files, unmatched = expand_arguments([str(empty), pattern, str(tmp_path / "missing.yaml")])

    assert files == [tmp_path / "missing.yaml"]
    assert [outcome.source for outcome in unmatched] == [str(empty), pattern]
    assert unmatched[0].error == f"{empty}: the folder contains no .yaml or .yml files"
    assert unmatched[1].error == f"{pattern}: no file matches this pattern"
    assert {outcome.exit_code for outcome in unmatched} == {2}


@pytest.mark.parametrize(
    ("arguments", "single"),
    [
        pytest.param(["spec.yaml"], True, id="one-file"),
        pytest.param(["missing.yaml"], True, id="missing-file"),
        pytest.param(["a.yaml", "b.yaml"], False, id="two-files"),
        pytest.param(["specs/*.yaml"], False, id="pattern"),
        pytest.param(["examples"], False, id="folder"),
    ],
)
def test_is_single_spec(arguments, single, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)

    assert is_single_spec(arguments) is single


def test_report_exit_code_is_highest():
    outcomes = [Outcome("a", project=Path("a")), Outcome("b", exit_code=1), Outcome("c", exit_code=2)]
    report = BatchReport(outcomes, jobs=2, seconds=0.5)

    assert report.exit_code == 2
    assert [outcome.source for outcome in report.failures] == ["b", "c"]
    assert report.summary(Path("out")) == "generated 1 of 3 projects in out (0.5 s, 2 worker processes)"


def test_batch_cli_generates_folder(tmp_path):
    specs = tmp_path / "specs"
    for name in ("alpha", "beta", "gamma"):
        write_spec(specs, name)

    result = run_cli("generate", str(specs), "-o", str(tmp_path / "out"), "--no-validate", "-j", "2")

    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["alpha-test", "beta-test", "gamma-test"]
    assert result.stdout.startswith(f"generated 3 of 3 projects in {tmp_path / 'out'} (")
    assert result.stdout.rstrip().endswith("2 worker processes)")
    assert result.stderr.count("skipped terraform fmt and validate") == 1
    for number in (1, 2, 3):
        assert f"tfscaffold: [{number}/3] generated " in result.stderr


def test_batch_matches_single_generate(tmp_path):
    spec = write_spec(tmp_path / "specs", "alpha")
    write_spec(tmp_path / "specs", "beta")

    single = run_cli("generate", str(spec), "-o", str(tmp_path / "single"), "--no-validate")
    many = run_cli("generate", str(tmp_path / "specs"), "-o", str(tmp_path / "batch"), "--no-validate")

    assert single.returncode == 0, single.stderr
    assert many.returncode == 0, many.stderr
    assert project_files(tmp_path / "batch" / "alpha-test") == project_files(tmp_path / "single" / "alpha-test")


def test_single_spec_output_unchanged(tmp_path):
    result = run_cli("generate", str(EXAMPLE), "-o", str(tmp_path), "--no-validate")

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"generated {tmp_path / 'payment-service-test'}\n"
    assert result.stderr == "tfscaffold: skipped terraform fmt and validate (--no-validate)\n"


def test_batch_failure_does_not_stop_others(tmp_path):
    specs = tmp_path / "specs"
    write_spec(specs, "alpha")
    write_spec(specs, "gamma")
    (specs / "broken.yaml").write_text(INVALID_SPEC)

    result = run_cli("generate", str(specs), "-o", str(tmp_path / "out"), "--no-validate")

    assert result.returncode == 2
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["alpha-test", "gamma-test"]
    assert f"failed: {specs / 'broken.yaml'}: 5 problems:" in result.stderr
    assert "service.name: invalid value \"Bad\"" in result.stderr
    assert result.stdout.startswith("generated 2 of 3 projects")
    assert result.stderr.rstrip().endswith(f"tfscaffold: error: 1 of 3 specs failed: {specs / 'broken.yaml'}")


def test_batch_exit_code_is_worst(tmp_path):
    specs = tmp_path / "specs"
    write_spec(specs, "alpha")
    write_spec(specs, "beta")
    (tmp_path / "out" / "alpha-test").mkdir(parents=True)

    exists_only = run_cli("generate", str(specs), "-o", str(tmp_path / "out"), "--no-validate")
    (specs / "broken.yaml").write_text(INVALID_SPEC)
    shutil.rmtree(tmp_path / "out" / "beta-test")
    with_invalid = run_cli("generate", str(specs), "-o", str(tmp_path / "out"), "--no-validate")

    assert exists_only.returncode == 1
    assert "alpha-test already exists; pass --force to replace it" in exists_only.stderr
    assert with_invalid.returncode == 2
    assert (tmp_path / "out" / "beta-test" / "versions.tf").is_file()


def test_batch_rejects_same_project(tmp_path):
    first = write_spec(tmp_path / "a", "alpha")
    second = tmp_path / "b" / "copy.yaml"
    second.parent.mkdir()
    second.write_text(first.read_text())

    result = run_cli("generate", str(first), str(second), "-o", str(tmp_path / "out"), "--no-validate")

    assert result.returncode == 2
    assert (tmp_path / "out" / "alpha-test").is_dir()
    assert f"{second}: writes the same project alpha-test as {first}" in result.stderr


def test_batch_reports_unmatched_pattern(tmp_path):
    spec = write_spec(tmp_path / "specs", "alpha")
    pattern = str(tmp_path / "none" / "*.yaml")

    result = run_cli("generate", str(spec), pattern, "-o", str(tmp_path / "out"), "--no-validate")

    assert result.returncode == 2
    assert (tmp_path / "out" / "alpha-test").is_dir()
    assert f"failed: {pattern}: no file matches this pattern" in result.stderr


def test_jobs_must_be_positive(tmp_path):
    result = run_cli("generate", str(EXAMPLE), str(EXAMPLE), "-j", "0", "-o", str(tmp_path))

    assert result.returncode == 2
    assert "argument -j/--jobs: invalid value '0'; expected a whole number of at least 1" in result.stderr


def crash_worker(source, *args):
    # Replaces batch._write_project in forked workers; ends the process like a crash would.
    if source.endswith("beta-test.yaml"):
        os._exit(70)
    return Outcome(source, project=Path(source))


@pytest.mark.skipif(sys.platform != "linux", reason="the patched worker reaches forked workers only")
def test_dead_worker_reported_not_hung(tmp_path, monkeypatch):
    specs = tmp_path / "specs"
    for name in ("alpha", "beta", "gamma"):
        write_spec(specs, name)
    monkeypatch.setattr(batch, "_write_project", crash_worker)

    report = generate_batch([str(specs)], tmp_path / "out", validate=False, jobs=1)

    assert report.exit_code == 1
    crashed = [outcome for outcome in report.outcomes if outcome.source.endswith("beta-test.yaml")]
    assert len(crashed) == 1
    assert "a worker process stopped unexpectedly" in crashed[0].error


def test_plugin_cache_uses_configured_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path / "cache"))

    with shared_plugin_cache() as cache:
        env = cache.env()

    assert cache.path == tmp_path / "cache"
    assert cache.path.is_dir()
    assert env == {CACHE_DIR_VARIABLE: str(tmp_path / "cache"), MAY_BREAK_LOCK_FILE_VARIABLE: "1"}
    assert "from TF_PLUGIN_CACHE_DIR" in cache.describe()


def test_plugin_cache_temporary_removed(monkeypatch):
    monkeypatch.delenv(CACHE_DIR_VARIABLE, raising=False)

    with shared_plugin_cache() as cache:
        assert cache.path.is_dir()
        assert cache.temporary

    assert not cache.path.exists()


def load_mirror_module():
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def recording_terraform(tmp_path) -> tuple[Path, Path]:
    """Return a terraform wrapper that logs each init's provider location, and its log file."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform not on PATH")
    log = tmp_path / "init-records.jsonl"
    wrapper = tmp_path / "bin" / "terraform"
    wrapper.parent.mkdir()
    wrapper.write_text(
        TERRAFORM_WRAPPER.format(
            python=sys.executable,
            terraform=terraform,
            provider_dir=PROVIDER_DIR,
            provider_binary=PROVIDER_BINARY,
            log=str(log),
        )
    )
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.mark.parametrize("unpacked", [pytest.param(False, id="packed-mirror"), pytest.param(True, id="unpacked-mirror")])
def test_validated_batch_copies_provider_once(tmp_path, recording_terraform, unpacked):
    wrapper, log = recording_terraform
    try:
        config = load_mirror_module().build_mirror(tmp_path / "tf", unpacked=unpacked)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    specs = tmp_path / "specs"
    for name in ("alpha", "beta", "gamma"):
        write_spec(specs, name)
    env = {key: value for key, value in os.environ.items() if key != CACHE_DIR_VARIABLE}
    env.update(TF_CLI_CONFIG_FILE=str(config), TFSCAFFOLD_TERRAFORM=str(wrapper), CHECKPOINT_DISABLE="1")

    result = run_cli("generate", str(specs), "-o", str(tmp_path / "out"), env=env)

    assert result.returncode == 0, result.stderr
    assert "terraform init shares one provider plugin cache for all 3 projects: " in result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    # One init fills the cache, then each of the three projects runs its own.
    assert len(records) == 4
    assert len({tuple(record["inode"]) for record in records}) == 1
    assert all(record["allocated"] < 1_000_000 for record in records), records
    if unpacked:
        mirror = (tmp_path / "tf" / "mirror").resolve()
        assert all(record["realpath"].startswith(f"{mirror}/") for record in records)
    else:
        cache = Path(records[0]["realpath"]).parents[5]
        assert cache.name.startswith("tfscaffold-plugins-")
        assert not cache.exists()


def test_validated_batch_keeps_configured_cache(tmp_path, recording_terraform):
    wrapper, log = recording_terraform
    try:
        config = load_mirror_module().build_mirror(tmp_path / "tf", unpacked=False)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    cache = tmp_path / "plugin-cache"
    specs = tmp_path / "specs"
    for name in ("alpha", "beta"):
        write_spec(specs, name)
    env = dict(os.environ)
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TFSCAFFOLD_TERRAFORM=str(wrapper),
        CHECKPOINT_DISABLE="1",
        TF_PLUGIN_CACHE_DIR=str(cache),
    )

    result = run_cli("generate", str(specs), "-o", str(tmp_path / "out"), env=env)

    assert result.returncode == 0, result.stderr
    assert f"{cache} (from TF_PLUGIN_CACHE_DIR)" in result.stderr
    cached = cache / "registry.terraform.io/hashicorp/aws/3.39.0/linux_amd64" / PROVIDER_BINARY
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert cached.is_file()
    assert {tuple(record["inode"]) for record in records} == {(cached.stat().st_dev, cached.stat().st_ino)}


def test_fill_failure_falls_back(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "terraformrc"))
    (tmp_path / "terraformrc").write_text(
        textwrap.dedent(
            f"""\
            provider_installation {{
              filesystem_mirror {{
                path    = "{tmp_path / 'empty-mirror'}"
                include = ["registry.terraform.io/hashicorp/aws"]
              }}
              direct {{
                exclude = ["registry.terraform.io/hashicorp/aws"]
              }}
            }}
            """
        )
    )
    if shutil.which("terraform") is None:
        pytest.skip("terraform not on PATH")
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    monkeypatch.delenv(CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.delenv("TFSCAFFOLD_TERRAFORM", raising=False)
    spec = write_spec(tmp_path / "specs", "alpha")

    report = generate_batch([str(spec), str(spec)], tmp_path / "out", jobs=1)

    assert report.exit_code == 1
    assert "terraform init failed" in report.outcomes[0].error
    assert "filling the plugin cache from" in caplog.text


def crash_loader(source):
    # Replaces batch._load_spec in forked workers.
    if source.endswith("beta-test.yaml"):
        os._exit(70)
    return source, Path(source).stem, b""


@pytest.mark.skipif(sys.platform != "linux", reason="the patched worker reaches forked workers only")
def test_dead_worker_while_loading(tmp_path, monkeypatch):
    specs = tmp_path / "specs"
    for name in ("alpha", "beta", "gamma"):
        write_spec(specs, name)
    monkeypatch.setattr(batch, "_load_spec", crash_loader)

    report = generate_batch([str(specs)], tmp_path / "out", validate=False, jobs=1)

    assert report.exit_code == 1
    assert len(report.outcomes) == 3
    assert all("a worker process stopped unexpectedly" in outcome.error for outcome in report.outcomes)


SPEC_VARIANTS = {
    "example": {},
    "ecr-image": {("container", "image"): "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:1.4.2"},
    "prod-https": {
        ("service", "environment"): "prod",
        ("load_balancer", "certificate_arn"): "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
    },
    "green-live": {("blue_green", "live"): "green", ("blue_green", "weights"): {"blue": 0, "green": 100}},
    "minimal": None,
}


def variant_spec(tmp_path: Path, variant: str) -> dict:
    from tfscaffold.validation import validate_file

    data = yaml.safe_load(EXAMPLE.read_text())
    if SPEC_VARIANTS[variant] is None:
        data = {key: data[key] for key in ("spec_version", "service")} | {"container": {"image": "nginx:1.27"}}
    for (section, key), value in (SPEC_VARIANTS[variant] or {}).items():
        data.setdefault(section, {})[key] = value
    path = tmp_path / f"{variant}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return validate_file(path)


@pytest.mark.parametrize("variant", list(SPEC_VARIANTS))
def test_primed_model_matches_filter(tmp_path, variant):
    from tfscaffold import jinja
    from tfscaffold.context import spec_to_context

    spec = variant_spec(tmp_path, variant)
    context = spec_to_context(spec)
    jinja._MODEL_CACHE.clear()
    validated = jinja.model_from_context(context)
    jinja._MODEL_CACHE.clear()

    assert jinja.prime_model_cache(context, spec)
    primed = jinja.model_from_context(context)
    assert primed == validated
    assert list(primed["spec"]) == list(validated["spec"])


@pytest.mark.parametrize("variant", list(SPEC_VARIANTS))
def test_primed_render_matches_unprimed(tmp_path, variant):
    from tfscaffold import jinja
    from tfscaffold.context import spec_to_context
    from tfscaffold.generate import render_files
    from tfscaffold.render import default_renderer

    spec = variant_spec(tmp_path, variant)
    jinja._MODEL_CACHE.clear()
    unprimed = default_renderer().render(spec_to_context(spec))
    jinja._MODEL_CACHE.clear()

    primed = render_files(spec)

    assert {name: text for name, text in primed.items() if not name.startswith(".tfscaffold/")} == unprimed


def test_prime_rejects_changed_spec(tmp_path):
    from tfscaffold import jinja
    from tfscaffold.context import spec_to_context

    spec = variant_spec(tmp_path, "example")
    context = spec_to_context(spec)
    spec["container"]["port"] = 9090
    jinja._MODEL_CACHE.clear()

    assert not jinja.prime_model_cache(context, spec)
    assert jinja._MODEL_CACHE == {}
