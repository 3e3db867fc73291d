"""Policy gate: checkov finds nothing in rendered projects beyond the documented skips.

checkov lives in its own virtualenv (scripts/install_checkov.sh). Without it
these tests skip locally with the reason, and fail under CI (CI=true), whose
`make test` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from terraform_helpers import build_mirror

from tfscaffold import policy
from tfscaffold.cli import main
from tfscaffold.errors import CheckovNotFoundError, PolicyError
from tfscaffold.generate import generate
from tfscaffold.policy import Finding, Skip, load_skips, run_checkov, unaccepted
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import load_schema, validate_loaded

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "payment-service.yaml"
PROD_SPEC = """\
spec_version: 1
service: {name: payment-service, environment: prod, environment_suffix: prod, region: eu-west-1}
container:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:1.4.2
database: {instances: 3}
secrets:
  - {name: stripe-api-key, description: Secret key for the Stripe API}
logs: {retention_days: 365}
network: {availability_zones: 3}
load_balancer:
  certificate_arn: arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789
"""
ENVIRONMENTS = ("test", "prod")


@pytest.fixture(scope="module")
def checkov() -> str:
    found = policy.find_checkov()
    if found is None:
        message = "checkov is not installed; run scripts/install_checkov.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """The example (test) project and a production project, both through terraform validate."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHECKPOINT_DISABLE", "1")
        patch.setenv("TF_CLI_CONFIG_FILE", str(build_mirror(tmp_path_factory.mktemp("mirror"))))
        output = tmp_path_factory.mktemp("projects")
        return {
            "test": generate(validate_loaded(load_spec_text(EXAMPLE.read_text(), str(EXAMPLE))), output),
            "prod": generate(validate_loaded(load_spec_text(PROD_SPEC, "prod.yaml")), output),
        }


@pytest.fixture(scope="module")
def findings(checkov, projects) -> dict[str, list[Finding]]:
    return {environment: run_checkov(projects[environment], checkov) for environment in ENVIRONMENTS}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_finding_outside_skip_file(findings, environment):
    assert findings[environment], "checkov found nothing at all; is it scanning the project?"
    remaining = unaccepted(findings[environment], load_skips(), environment)
    assert [str(finding) for finding in remaining] == []


def test_prod_needs_no_test_only_skip(findings):
    test_only = [skip for skip in load_skips() if skip.environments and "prod" not in skip.environments]
    needing = [f"{finding} (accepted only by the test-only skip of {skip.check})"
               for finding in findings["prod"] for skip in test_only if skip.covers(finding, "test")]
    assert needing == []


def test_every_skip_still_needed(findings):
    stale = [f"{skip.check} {', '.join(skip.resources)}" for skip in load_skips()
             if not any(skip.covers(finding, environment)
                        for environment in ENVIRONMENTS for finding in findings[environment])]
    assert stale == []


def test_skip_file_entries_documented():
    allowed = set(load_schema()["properties"]["service"]["properties"]["environment"]["enum"])
    skips = load_skips()
    assert skips
    for skip in skips:
        assert re.match(r"^CKV2?_AWS_[0-9]+$", skip.check), skip
        assert "\n" not in skip.reason, skip
        assert 20 <= len(skip.reason) <= 200, skip
        if skip.environments is not None:
            assert set(skip.environments) <= allowed, skip
            assert "prod" not in skip.environments, skip
            assert "staging" not in skip.environments, skip


def test_skip_covers_indexed_resources():
    skip = Skip("CKV_AWS_1", ("aws_rds_cluster_instance.this", "aws_cloudwatch_log_group.*"), "reason", ("test",))
    instance = Finding("CKV_AWS_1", "aws_rds_cluster_instance.this[2]", "", "rds.tf", 1)
    group = Finding("CKV_AWS_1", "aws_cloudwatch_log_group.app", "", "cloudwatch.tf", 1)
    other = Finding("CKV_AWS_2", "aws_cloudwatch_log_group.app", "", "cloudwatch.tf", 1)
    assert skip.covers(instance, "test")
    assert skip.covers(group, "test")
    assert not skip.covers(group, "prod")
    assert not skip.covers(other, "test")


def test_policy_check_blocks_short_prod_retention(checkov, tmp_path, monkeypatch):
    monkeypatch.setenv(policy.OVERRIDE_ENV_VAR, checkov)
    spec = validate_loaded(load_spec_text(PROD_SPEC.replace("retention_days: 365", "retention_days: 30"), "p.yaml"))
    with pytest.raises(PolicyError) as caught:
        generate(spec, tmp_path, validate=False, policy_check=True)
    assert "CKV_AWS_338 aws_cloudwatch_log_group.app" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_policy_check_passes_example(checkov, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(policy.OVERRIDE_ENV_VAR, checkov)
    code = main(["generate", str(EXAMPLE), "-o", str(tmp_path), "--no-validate", "--policy-check"])
    assert code == 0
    assert (tmp_path / "payment-service-test" / "alb.tf").is_file()


def test_missing_checkov_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(policy, "find_checkov", lambda: None)
    code = main(["generate", str(EXAMPLE), "-o", str(tmp_path), "--no-validate", "--policy-check"])
    assert code == 1
    assert capsys.readouterr().err.startswith("tfscaffold: error: checkov not found: run scripts/install_checkov.sh")
    assert list(tmp_path.iterdir()) == []


def test_checkov_opens_no_network_connection(checkov, projects, tmp_path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace.txt"
    result = subprocess.run(
        [strace, "-f", "-e", "trace=connect", "-o", str(trace), checkov, "--directory", str(projects["test"]),
         *policy.CHECKOV_ARGS],
        capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, timeout=600,
    )
    if "Operation not permitted" in result.stderr and not trace.exists():
        pytest.skip("ptrace is not permitted here")
    assert result.returncode == 0, result.stderr[-2000:]
    network = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert network == []
