"""No secret value reaches the rendered files, the stored spec or the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from terraform_helpers import build_mirror

from tfscaffold import hooks
from tfscaffold.cli import main
from tfscaffold.errors import SpecError
from tfscaffold.generate import render_files
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_loaded

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "payment-service.yaml"
SENTINEL = "Sentinel-Password-0123456789"
MINIMAL = """\
spec_version: 1
service: {name: payment-service, environment: test, environment_suffix: test, region: eu-west-1}
container: {image: public.ecr.aws/nginx/nginx:1.27}
"""
PLACEHOLDER = "placeholder: set the real value with aws ssm put-parameter --overwrite"


def _unquote(value: str) -> str:
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


def _blocks(parsed: dict[str, Any], kind: str) -> dict[str, Any]:
    """Return {name: body} for the variables, or {type.name: body} for the resources, of a parsed file."""
    found = {}
    for block in parsed.get(kind, []):
        for first, body in block.items():
            if kind == "variable":
                found[_unquote(first)] = body
            else:
                for name, resource in body.items():
                    found[f"{_unquote(first)}.{_unquote(name)}"] = resource
    return found


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    from tfscaffold.validation import validate_file

    return render_files(validate_file(EXAMPLE))


def test_master_password_sensitive_without_default(files):
    variable = _blocks(hcl2.loads(files["variables.tf"]), "variable")["db_master_password"]
    assert variable["sensitive"] is True
    assert "default" not in variable


def test_cluster_password_from_variable(files):
    cluster = _blocks(hcl2.loads(files["rds.tf"]), "resource")["aws_rds_cluster.this"]
    assert cluster["master_password"] == "${var.db_master_password}"


def test_parameters_use_placeholder_and_ignore_value(files):
    resources = _blocks(hcl2.loads(files["ssm.tf"]), "resource")
    secret = resources["aws_ssm_parameter.secret"]
    assert _unquote(secret["value"]) == PLACEHOLDER
    assert secret["lifecycle"][0]["ignore_changes"] == ["value"]
    assert resources["aws_ssm_parameter.db_master_password"]["value"] == "${var.db_master_password}"


@pytest.mark.parametrize("text", [
    "secrets:\n  - name: db\n    value: hunter2-secret\n",
    "database: {password: hunter2-secret}\n",
])
def test_spec_rejects_secret_values(text):
    with pytest.raises(SpecError) as caught:
        validate_loaded(load_spec_text(MINIMAL + text, "spec.yaml"))
    assert "unknown key" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_context_secret_mapping_not_echoed(capsys):
    from tfscaffold.render import template_context

    context = {key: (value[0] if isinstance(value, list) else value)
               for key, value in template_context().items() if not key.startswith("_")}
    context.update(project_slug="payment-service-test", blue_green_weights_blue="100",
                   blue_green_weights_green="0", secrets=json.dumps({"db": {"value": "hunter2-secret"}}))
    assert hooks.pre_generate(context) == 2
    err = capsys.readouterr().err
    assert "cookiecutter variable secrets" in err
    assert "hunter2" not in err


def test_generate_keeps_secret_out(tmp_path, monkeypatch, capsys, caplog, tmp_path_factory):
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(build_mirror(tmp_path_factory.mktemp("mirror"))))
    monkeypatch.setenv("TF_VAR_db_master_password", SENTINEL)
    caplog.set_level(logging.DEBUG)

    code = main(["--verbose", "generate", str(EXAMPLE), "-o", str(tmp_path)])

    captured = capsys.readouterr()
    assert code == 0
    assert SENTINEL not in captured.out + captured.err
    assert SENTINEL not in caplog.text
    project = tmp_path / "payment-service-test"
    for path in project.rglob("*"):
        if path.is_file():
            assert SENTINEL not in path.read_text(encoding="utf-8"), path
    stored = yaml.safe_load((project / ".tfscaffold" / "spec.yaml").read_text(encoding="utf-8"))
    assert not [key for key in _all_keys(stored) if key in ("value", "password")]


def _all_keys(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [str(key) for key in data] + [key for value in data.values() for key in _all_keys(value)]
    if isinstance(data, list):
        return [key for item in data for key in _all_keys(item)]
    return []
