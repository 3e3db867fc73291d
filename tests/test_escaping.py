"""User values cannot change the Terraform they land in, and templates fail on undefined names."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from terraform_helpers import InitializedProject, block_lines, build_mirror, terraform_values

from tfscaffold.errors import SpecError
from tfscaffold.generate import generate, render_files
from tfscaffold.hcl import hcl_string
from tfscaffold.model import build_model
from tfscaffold.render import PROJECT_TEMPLATE, TEMPLATE_ROOT, Renderer
from tfscaffold.spec import load_spec_text
from tfscaffold.validation import validate_loaded

BASE_SPEC: dict[str, Any] = {
    "spec_version": 1,
    "service": {"name": "payment-service", "environment": "test", "environment_suffix": "test",
                "region": "eu-west-1"},
    "container": {"image": "public.ecr.aws/nginx/nginx:1.27"},
}

TRICKY_STRINGS = [
    'a "quoted" word',
    "back\\slash and \\n written out",
    "line one\nline two\r\n\ttabbed",
    "${var.db_master_password}",
    "%{ if true }x%{ endif }",
    "$${already escaped}",
    "$${",
    "%%{",
    "$$$${",
    "trailing $",
    "trailing %",
    "{{ cookiecutter.service_name }} and {% raw %}",
    "\u0000 nul, \u001b escape, \u007f delete",
    "unicode: é ü 中文 🚀 \u2028 line separator, \u202e bidi override, \U000e0001 tag",
    '"\n}\nresource "aws_iam_user" "x" {\n  name = "owned',
]


def _spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE_SPEC)
    for dotted, value in changes.items():
        node = spec
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return spec


def _validate(spec: dict[str, Any]) -> dict[str, Any]:
    import json

    return validate_loaded(load_spec_text(json.dumps(spec), "spec.yaml"))


def _reference_decode(literal: str) -> str:
    """Decode an HCL quoted string literal, failing on any template sequence or raw quote."""
    assert len(literal) >= 2
    assert literal.startswith('"')
    assert literal.endswith('"')
    body, out, index = literal[1:-1], [], 0
    escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while index < len(body):
        char = body[index]
        if char == "\\":
            code = body[index + 1]
            if code in escapes:
                out.append(escapes[code])
                index += 2
            elif code in "uU":
                width = 4 if code == "u" else 8
                out.append(chr(int(body[index + 2 : index + 2 + width], 16)))
                index += 2 + width
            else:
                raise AssertionError(f"unknown escape \\{code} in {literal!r}")
        elif body.startswith("$${", index) or body.startswith("%%{", index):
            out.append(body[index + 1 : index + 3])
            index += 3
        elif body.startswith("${", index) or body.startswith("%{", index):
            raise AssertionError(f"template sequence at {index} in {literal!r}")
        elif char == '"' or (not char.isprintable() and char != " "):
            raise AssertionError(f"raw {char!r} at {index} in {literal!r}")
        else:
            out.append(char)
            index += 1
    return "".join(out)


@given(st.text(alphabet=st.one_of(st.sampled_from(list('$%{}"\\\n\r\tu0a')), st.characters()), max_size=60))
@settings(max_examples=500)
def test_hcl_string_reference_roundtrip(text):
    assert _reference_decode(hcl_string(text)) == text


def test_hcl_string_terraform_roundtrip(tmp_path):
    body = "  values = [\n" + "".join(f"    {hcl_string(text)},\n" for text in TRICKY_STRINGS) + "  ]"
    assert terraform_values(tmp_path, body)["values"] == TRICKY_STRINGS


def test_unescaped_template_values_safe():
    """Every template value not passed through `hcl` renders as a number or a plain identifier."""
    expression = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
    unfiltered = set()
    for path in (TEMPLATE_ROOT / PROJECT_TEMPLATE).glob("*.tf"):
        for found in expression.findall(path.read_text(encoding="utf-8")):
            if not re.search(r"\|\s*hcl(_map|_string)?\b", found):
                unfiltered.add(found)
    assert unfiltered

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    identifier = re.compile(r"^[A-Za-z0-9._:/-]+$")
    specs = [_spec(), _spec(**{"service.environment": "prod", "load_balancer.certificate_arn":
                               "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
                               "container.image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/pay/api:1.0"})]
    for spec in specs:
        model = build_model(_validate(spec))
        for source in sorted(unfiltered):
            for scope in ({"colour": "blue", "port": 443}, {"colour": "green", "port": 80}):
                value = env.compile_expression(source, undefined_to_none=False)(m=model, **scope)
                if isinstance(value, jinja2.Undefined):
                    continue  # a block the template renders only for other specs, such as ECR images
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    continue
                assert isinstance(value, str), f"{{{{ {source} }}}} gave {value!r}"
                assert identifier.match(value), f"{{{{ {source} }}}} gave {value!r}, which needs escaping"


def test_rendered_files_keep_terraform_sequences():
    files = render_files(_validate(_spec()))
    assert '"service/${aws_ecs_cluster.this.name}/${aws_ecs_service.blue.name}"' in files["autoscaling.tf"]
    for name, text in files.items():
        assert "{{" not in text, name
        assert "{%" not in text, name


def test_description_with_jinja_and_hcl_markers(tmp_path):
    secrets = [{"name": f"s{index}", "description": text} for index, text in enumerate(TRICKY_STRINGS)]
    files = render_files(_validate(_spec(secrets=secrets)))
    values = terraform_values(tmp_path, block_lines(files["ssm.tf"], "  secrets = {"))
    assert {name: item["description"] for name, item in values["secrets"].items()} == {
        item["name"]: item["description"] for item in secrets
    }


# Strict undefined: a typo in a template is an error, not an empty string.

def test_renderer_undefined_variable_raises(tmp_path):
    project = tmp_path / PROJECT_TEMPLATE
    project.mkdir()
    (project / "main.tf").write_text('locals {\n  x = "{{ cookiecutter.no_such_variable }}"\n}\n')
    renderer = Renderer(tmp_path)
    with pytest.raises(jinja2.UndefinedError, match="no_such_variable"):
        renderer.render({"project_slug": "x"})


def test_renderer_undefined_model_field_raises(tmp_path):
    project = tmp_path / PROJECT_TEMPLATE
    shutil.copytree(TEMPLATE_ROOT / PROJECT_TEMPLATE, project)
    with (project / "locals.tf").open("a", encoding="utf-8") as stream:
        stream.write("# {{ m.names.no_such_name }}\n")
    from tfscaffold.context import spec_to_context

    with pytest.raises(jinja2.UndefinedError, match="no_such_name"):
        Renderer(tmp_path).render(spec_to_context(_validate(_spec())))


def test_cookiecutter_undefined_variable_raises(tmp_path):
    from cookiecutter.exceptions import UndefinedVariableInTemplate
    from cookiecutter.main import cookiecutter

    template = tmp_path / "template"
    template.mkdir()
    shutil.copy2(TEMPLATE_ROOT / "cookiecutter.json", template / "cookiecutter.json")
    shutil.copytree(TEMPLATE_ROOT / PROJECT_TEMPLATE, template / PROJECT_TEMPLATE)
    (template / PROJECT_TEMPLATE / "typo.tf").write_text("# {{ cookiecutter.servce_name }}\n")
    with pytest.raises(UndefinedVariableInTemplate):
        cookiecutter(str(template), no_input=True, output_dir=str(tmp_path / "out"), accept_hooks=False)


# Property test: arbitrary text in every free-text field.

FREE_TEXT_FIELDS = ["secret_description", "tag_key", "tag_value", "health_check_path", "image", "database_name"]
FIELD_PATHS = {
    "secret_description": "secrets[0].description",
    "tag_key": "tags",
    "tag_value": "tags",
    "health_check_path": "container.health_check_path",
    "image": "container.image",
    "database_name": "database.name",
}
TEXT = st.text(alphabet=st.one_of(st.sampled_from(list('$%{}"\\\n\t /.:=+@-_aZ09é')), st.characters()), max_size=40)


def _schema_pattern(field: str) -> str:
    from tfscaffold.validation import load_schema

    properties = load_schema()["properties"]
    node = {
        "tag_key": properties["tags"]["propertyNames"],
        "tag_value": properties["tags"]["additionalProperties"],
        "health_check_path": properties["container"]["properties"]["health_check_path"],
        "image": properties["container"]["properties"]["image"],
        "database_name": properties["database"]["properties"]["name"],
    }[field]
    # Hypothesis cannot generate from a lookahead, so drop it; values starting
    # with aws: are then rejected, which the test also checks.
    return node["pattern"].replace("(?!aws:)", "")


def _field_values(field: str) -> st.SearchStrategy[tuple[str, str]]:
    """Arbitrary text, mixed for restricted fields with text their pattern allows."""
    if field == "secret_description":
        return st.tuples(st.just(field), TEXT)
    allowed = st.from_regex(_schema_pattern(field), fullmatch=True).filter(lambda text: len(text) <= 60)
    return st.tuples(st.just(field), st.one_of(TEXT, allowed))


FIELD_VALUES = st.one_of([_field_values(field) for field in FREE_TEXT_FIELDS])


def _field_spec(field: str, text: str, index: int = 0) -> dict[str, Any]:
    if field == "secret_description":
        return _spec(secrets=[{"name": f"s{index}", "description": text}])
    if field == "tag_key":
        return _spec(tags={text: "v"})
    if field == "tag_value":
        return _spec(tags={f"K{index}": text})
    if field == "health_check_path":
        return _spec(**{"container.health_check_path": text})
    if field == "image":
        return _spec(**{"container.image": text})
    return _spec(**{"database.name": text})


def _accepted(field: str, text: str) -> bool:
    """Validate one value and return whether it was accepted, asserting that a rejection is clear."""
    try:
        _validate(_field_spec(field, text))
    except SpecError as error:
        assert error.problems
        for line in error.problems:
            assert "\n" not in line
            assert line.startswith("spec.yaml"), line
            assert f": {FIELD_PATHS[field]}" in line, line
            assert "invalid" in line or "expected" in line, line
        return False
    return True


@pytest.fixture(scope="module")
def initialized(tmp_path_factory):
    config = build_mirror(tmp_path_factory.mktemp("mirror"))
    first = generate(_validate(_spec()), tmp_path_factory.mktemp("first"), validate=False)
    return InitializedProject(tmp_path_factory.mktemp("validate"), config, first)


@given(batch=st.lists(FIELD_VALUES, min_size=1, max_size=40))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_free_text_rejected_or_roundtrips(batch, initialized, tmp_path_factory):
    accepted = [(field, text) for field, text in batch if _accepted(field, text)]

    secrets = [{"name": f"s{index}", "description": text}
               for index, (field, text) in enumerate(accepted) if field == "secret_description"][:50]
    tags: dict[str, str] = {}
    singles: dict[str, str] = {}
    for index, (field, text) in enumerate(accepted):
        if field == "tag_key" and len(tags) < 40:
            tags[text] = "v"
        elif field == "tag_value" and len(tags) < 40:
            tags[f"K{index}"] = text
        elif field not in ("secret_description", "tag_key", "tag_value"):
            singles[field] = text
    changes: dict[str, Any] = {"secrets": secrets, "tags": tags}
    changes.update({{"health_check_path": "container.health_check_path", "image": "container.image",
                     "database_name": "database.name"}[field]: text for field, text in singles.items()})
    spec = _validate(_spec(**changes))

    project = generate(spec, tmp_path_factory.mktemp("render"), validate=False)
    initialized.load(project)
    code, output = initialized.validate()
    assert code == 0, output

    files = {path.name: path.read_text(encoding="utf-8") for path in project.glob("*.tf")}
    body = "\n".join([
        block_lines(files["ssm.tf"], "  secrets = {") if secrets else "  secrets = {}",
        block_lines(files["locals.tf"], "  tags = {"),
        "  health = " + re.search(r"^\s+path\s+= (.*)$", files["alb.tf"], re.MULTILINE).group(1),
        "  image = " + re.search(r"^\s+default\s+= (.*)$", files["variables.tf"].split('"blue_image"')[1],
                                 re.MULTILINE).group(1),
        "  database = " + re.search(r"^\s+database_name\s+= (.*)$", files["rds.tf"], re.MULTILINE).group(1),
    ])
    values = terraform_values(tmp_path_factory.mktemp("decode"), body)

    assert {name: item["description"] for name, item in values["secrets"].items()} == {
        item["name"]: item["description"] for item in secrets
    }
    assert {key: values["tags"][key] for key in tags} == tags
    assert values["health"] == spec["container"]["health_check_path"]
    assert values["image"] == spec["container"]["image"]
    assert values["database"] == spec["database"]["name"]


def test_non_nfc_text_rejected():
    text = (
        "spec_version: 2\n"
        "service: {name: pay, environment: test, environment_suffix: test, region: eu-west-1}\n"
        "container: {image: nginx}\n"
        'tags: {Team: "\\uf900"}\n'
    )

    with pytest.raises(SpecError) as caught:
        validate_loaded(load_spec_text(text, "spec.yaml"))

    assert caught.value.problems == [
        'spec.yaml:4:14: tags.Team: invalid value "\\uf900": Terraform stores text in Unicode NFC form, '
        'which would change it to "\\u8c48"; write it in NFC form'
    ]
