"""Bad specs: every problem reported at once, one line each, with exact text."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from tfscaffold import hooks
from tfscaffold.cli import main
from tfscaffold.errors import SpecError
from tfscaffold.spec import MAX_SPEC_BYTES, MAX_SPEC_NODES, load_spec_text

REPO_ROOT = Path(__file__).resolve().parent.parent
# Child processes import tfscaffold from this checkout.
_ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

BASE = """\
spec_version: 1
service:
  name: payment-service
  environment: test
  environment_suffix: test
  region: eu-west-1
container:
  image: public.ecr.aws/nginx/nginx:1.27
"""

ALLOWED_TOP_KEYS = (
    "spec_version, project_slug, service, container, database, autoscaling, blue_green, secrets, logs, network, "
    "load_balancer, tags, protection, terraform"
)
NAME_WORDS = "lowercase letters and digits in words joined by single hyphens, starting with a letter"
TAG_VALUE_WORDS = "letters, digits, spaces and _ . : / = + @ -, not starting with aws: in any letter case"


def _with(text: str) -> str:
    return BASE + text


# (spec text, expected problem lines with the spec file named spec.yaml)
BAD_SPECS = [
    pytest.param("", ["spec.yaml: the spec is empty; start from examples/payment-service.yaml"], id="empty"),
    pytest.param("# only a comment\n", ["spec.yaml: the spec is empty; start from examples/payment-service.yaml"],
                 id="comments-only"),
    pytest.param("- a\n- b\n", ["spec.yaml:1:1: the top level is a list, expected a mapping of spec keys"],
                 id="top-level-list"),
    pytest.param("hello\n", ["spec.yaml:1:1: the top level is a string, expected a mapping of spec keys"],
                 id="top-level-string"),
    pytest.param("service:\n\tname: x\n",
                 ["spec.yaml:2:1: invalid YAML: while scanning for the next token, found character '\\t' that "
                  "cannot start any token; indent with spaces, not tabs"], id="yaml-tab"),
    pytest.param("service: {name: x\n",
                 ["spec.yaml:2:1: invalid YAML: while parsing a flow mapping, expected ',' or '}', but got "
                  "'<stream end>'"], id="yaml-unclosed-flow"),
    pytest.param(BASE + "---\nspec_version: 1\n",
                 ["spec.yaml:9:1: invalid YAML: expected a single document in the stream, but found another "
                  "document"], id="yaml-two-documents"),
    pytest.param(_with("container:\n  port: 80\n"),
                 ['spec.yaml:9:1: container: duplicate key "container", first defined on line 7; remove one'],
                 id="duplicate-key"),
    pytest.param(_with("tags: {Team: !!binary aGVsbG8=}\n"),
                 ["spec.yaml:9:14: tags.Team: the YAML tag !!binary is not supported in a spec"], id="binary-tag"),
    pytest.param(_with("tags: !!python/object:os.system {}\n"),
                 ["spec.yaml:9:7: tags: the YAML tag !!python/object:os.system is not supported in a spec"],
                 id="python-tag"),
    pytest.param(_with('tags: {Team: "\\ud800"}\n'),
                 ["spec.yaml:9:14: tags.Team: the value contains an invalid Unicode escape (a lone surrogate)"],
                 id="lone-surrogate"),
    pytest.param("a: " + "[" * 40 + "]" * 40 + "\n", ["spec.yaml:1:36: nested more than 32 levels deep"],
                 id="nested-too-deep"),
    pytest.param("spec_version: 1\nservice:\n  name: payment-service\n  environment: test\n  region: eu-west-1\n",
                 ["spec.yaml:1:1: container: required key is missing",
                  'spec.yaml:3:3: service.environment_suffix: required key is missing; is "environment" a '
                  "misspelling of it?"], id="missing-required-keys"),
    pytest.param(BASE.replace("  name: payment-service", "  nme: payment-service"),
                 ['spec.yaml:3:3: service.name: required key is missing; is "nme" a misspelling of it?',
                  'spec.yaml:3:3: service.nme: unknown key (did you mean "name"?); allowed keys: name, environment, '
                  "environment_suffix, region"], id="misspelled-required-key"),
    pytest.param(_with("contianer_extra: 1\n"),
                 [f'spec.yaml:9:1: contianer_extra: unknown key (did you mean "container"?); allowed keys: '
                  f"{ALLOWED_TOP_KEYS}"], id="unknown-top-level-key"),
    pytest.param(BASE.replace("spec_version: 1", "spec_version: 3"),
                 ["spec.yaml:1:15: spec_version: 3 is newer than the newest version this tfscaffold reads (2); "
                  "upgrade tfscaffold"], id="spec-version-future"),
    pytest.param(BASE.replace("spec_version: 1", "spec_version: 0"),
                 ["spec.yaml:1:15: spec_version: invalid value 0; expected a version from 1 to 2"],
                 id="spec-version-0"),
    pytest.param(BASE.replace("spec_version: 1", "spec_version: yes"),
                 ["spec.yaml:1:15: spec_version: invalid value yes (YAML reads it as true); expected a whole number"],
                 id="yaml11-boolean-for-integer"),
    pytest.param("spec_version: 1\nservice:\ncontainer:\n  image: x\n",
                 ["spec.yaml:2:9: service: invalid value null; expected a mapping; indent the keys that belong "
                  "under it"], id="mapping-without-value"),
    pytest.param("spec_version: 1\nservice: [a]\ncontainer:\n  image: x\n",
                 ["spec.yaml:2:10: service: invalid value a list; expected a mapping"], id="list-for-mapping"),
    pytest.param(_with('  port: "8080"\n'),
                 ['spec.yaml:9:9: container.port: invalid value "8080"; expected a whole number; remove the quotes'],
                 id="quoted-number"),
    pytest.param(_with("  port: 0755\n"),
                 ["spec.yaml:9:9: container.port: invalid value 0755: YAML 1.1 reads a leading 0 as octal, giving "
                  "493; remove the leading zeros"], id="yaml11-octal"),
    pytest.param(_with("  port: 1:30\n"),
                 ["spec.yaml:9:9: container.port: invalid value 1:30: YAML 1.1 reads it as the base-60 number 90; "
                  "write the number in decimal, or quote it if it is text"], id="yaml11-sexagesimal"),
    pytest.param(_with("  port: 70000\n"),
                 ["spec.yaml:9:9: container.port: invalid value 70000; expected a whole number from 1 to 65535"],
                 id="port-out-of-range"),
    pytest.param(_with("  port: 80.5\n"),
                 ["spec.yaml:9:9: container.port: invalid value 80.5; expected a whole number"], id="fraction"),
    pytest.param(_with("  port: 2024-01-01\n"),
                 ["spec.yaml:9:9: container.port: invalid value 2024-01-01; expected a whole number"],
                 id="date-for-integer"),
    pytest.param(_with("  cpu: 500\n"),
                 ["spec.yaml:9:8: container.cpu: invalid value 500; expected one of: 256, 512, 1024, 2048, 4096, "
                  "8192, 16384 (did you mean 512?)"], id="cpu-near-miss"),
    pytest.param(_with("  cpu: 512\n  memory: 512\n"),
                 ["spec.yaml:10:11: container.memory: invalid value 512; with cpu 512, expected one of: 1024, 2048, "
                  "3072, 4096"], id="fargate-cpu-memory"),
    pytest.param(_with("  health_check_path: health\n"),
                 ['spec.yaml:9:22: container.health_check_path: invalid value "health"; expected a URL path that '
                  "starts with / and contains only letters, digits and . _ ~ / % -"], id="health-path-pattern"),
    pytest.param(BASE.replace("environment: test", "environment: Prod"),
                 ['spec.yaml:4:16: service.environment: invalid value "Prod"; expected one of: "test", "dev", '
                  '"staging", "prod" (did you mean "prod"?)'], id="enum-near-miss"),
    pytest.param(BASE.replace("name: payment-service", "name: Payment"),
                 [f'spec.yaml:3:9: service.name: invalid value "Payment"; expected {NAME_WORDS}'],
                 id="uppercase-name"),
    pytest.param(BASE.replace("name: payment-service", "name: 'pay ment'"),
                 [f'spec.yaml:3:9: service.name: invalid value "pay ment"; expected {NAME_WORDS}'],
                 id="name-with-space"),
    pytest.param(_with("project_slug: ../x\n"),
                 [f'spec.yaml:9:15: project_slug: invalid value "../x"; expected {NAME_WORDS}'],
                 id="project-folder-dotdot"),
    pytest.param(_with("project_slug: a/b\n"),
                 [f'spec.yaml:9:15: project_slug: invalid value "a/b"; expected {NAME_WORDS}'],
                 id="project-folder-slash"),
    pytest.param(BASE.replace("environment_suffix: test", "environment_suffix: ''"),
                 ['spec.yaml:5:23: service.environment_suffix: invalid value ""; expected lowercase letters and '
                  "digits in words joined by single hyphens",
                  'spec.yaml:5:23: service.environment_suffix: invalid value "" (0 characters); expected 1 to 12 '
                  "characters"], id="empty-suffix"),
    pytest.param(BASE.replace("region: eu-west-1", "region: europe"),
                 ['spec.yaml:6:11: service.region: invalid value "europe"; expected an AWS region name such as '
                  "eu-west-1 or us-gov-west-1"], id="region-pattern"),
    pytest.param(BASE.replace("image: public.ecr.aws/nginx/nginx:1.27", 'image: "x\\"}\\nresource"'),
                 ['spec.yaml:8:10: container.image: invalid value "x\\"}\\nresource"; expected an image reference '
                  "such as registry/name:tag, made of letters, digits and . _ / : @ -, starting with a lowercase "
                  "letter or digit"], id="image-injection"),
    pytest.param(_with("blue_green: {live: no}\n"),
                 ['spec.yaml:9:20: blue_green.live: invalid value "no"; expected one of: "blue", "green"'],
                 id="yaml11-no-in-enum"),
    pytest.param(_with('load_balancer: {internal: "no"}\n'),
                 ['spec.yaml:9:27: load_balancer.internal: invalid value "no"; expected true or false; remove the '
                  "quotes"], id="quoted-boolean"),
    pytest.param(_with("load_balancer: {internal: 1}\n"),
                 ["spec.yaml:9:27: load_balancer.internal: invalid value 1; expected true or false"],
                 id="integer-for-boolean"),
    pytest.param(_with("network: {vpc_cidr: 10.0.0.1/16}\n"),
                 ['spec.yaml:9:21: network.vpc_cidr: invalid CIDR block "10.0.0.1/16": the address has host bits '
                  'set; use "10.0.0.0/16"'], id="cidr-host-bits"),
    pytest.param(_with("load_balancer: {ingress_cidrs: [300.0.0.0/8]}\n"),
                 ['spec.yaml:9:33: load_balancer.ingress_cidrs[0]: invalid CIDR block "300.0.0.0/8": Octet 300 '
                  "(> 255) not permitted in '300.0.0.0'"], id="cidr-octet"),
    pytest.param(_with("load_balancer: {ingress_cidrs: [10.0.0.0/8, 10.0.0.0/8]}\n"),
                 ['spec.yaml:9:32: load_balancer.ingress_cidrs: lists "10.0.0.0/8" more than once; remove the '
                  "repeats"], id="cidr-repeated"),
    pytest.param(_with("tags: {'aws:owner': x}\n"),
                 ['spec.yaml:9:8: tags["aws:owner"]: invalid key "aws:owner"; expected 1 to 128 ASCII letters, '
                  "digits, spaces and _ . : / = + @ -, not starting with aws: in any letter case"], id="tag-key-reserved"),
    pytest.param(_with("tags: {Team: 'a\"b'}\n"),
                 [f'spec.yaml:9:14: tags.Team: invalid value "a\\"b"; expected {TAG_VALUE_WORDS}'],
                 id="tag-value-quote"),
    pytest.param(_with("secrets:\n  - name: db\n    value: hunter2\n"),
                 ["spec.yaml:11:5: secrets[0].value: unknown key; allowed keys: name, description"],
                 id="secret-value-rejected"),
    pytest.param(_with("secrets:\n  - name: api-key\n  - name: api_key\n"),
                 ['spec.yaml:11:11: secrets[1].name: "api_key" gives the variable API_KEY, as secrets[0] does; '
                  "rename one"], id="secret-variable-clash"),
    pytest.param(_with("secrets:\n  - name: ../etc\n"),
                 ['spec.yaml:10:11: secrets[0].name: invalid value "../etc"; expected lowercase letters and digits '
                  "in words joined by single hyphens or underscores, starting with a letter"], id="secret-name-path"),
    pytest.param(_with("secrets:\n  - name: a\n    description: " + "x" * 1100 + "\n"),
                 ['spec.yaml:11:18: secrets[0].description: invalid value "' + "x" * 59 + '…" (1100 characters); '
                  "expected at most 1024 characters"], id="description-too-long"),
    pytest.param(_with("secrets:\n" + "".join(f"  - name: s{i}\n" for i in range(51))),
                 ["spec.yaml:10:3: secrets: has 51 entries; expected at most 50"], id="too-many-secrets"),
    pytest.param(_with("autoscaling: {cpu_target: 0}\n"),
                 ["spec.yaml:9:27: autoscaling.cpu_target: invalid value 0; expected a number from 1 to 100"],
                 id="cpu-target-below-minimum"),
    pytest.param(_with("autoscaling: {min_capacity: 5, max_capacity: 2}\n"),
                 ["spec.yaml:9:29: autoscaling.min_capacity: min_capacity 5 is greater than max_capacity 2"],
                 id="min-above-max"),
    pytest.param(_with("blue_green: {live: green, weights: {blue: 100, green: 0}}\n"),
                 ['spec.yaml:9:20: blue_green.live: live colour "green" has weight 0; give it traffic or switch live'],
                 id="live-without-traffic"),
    pytest.param(_with("logs: {retention_days: 31}\n"),
                 ["spec.yaml:9:24: logs.retention_days: invalid value 31; expected one of: 1, 3, 5, 7, 14, 30, 60, "
                  "90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653 (did you mean 30?)"], id="retention-near-miss"),
    pytest.param(
        _with(textwrap.dedent("""\
              port: 70000
            blue_green:
              live: blu
              weights: {blue: 50, green: 20}
            autoscaling: {min_capacity: 5, max_capacity: 2}
            """)),
        ["spec.yaml:9:9: container.port: invalid value 70000; expected a whole number from 1 to 65535",
         'spec.yaml:11:9: blue_green.live: invalid value "blu"; expected one of: "blue", "green" (did you mean '
         '"blue"?)',
         "spec.yaml:12:12: blue_green.weights: blue 50 + green 20 = 70; the weights must sum to 100",
         "spec.yaml:13:29: autoscaling.min_capacity: min_capacity 5 is greater than max_capacity 2"],
        id="schema-and-semantic-together"),
]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("text", "expected"), BAD_SPECS)
def test_bad_spec_exact_error(text, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_text(text, encoding="utf-8")

    code, out, err = _run(["validate", "spec.yaml"], capsys)

    noun = "problem" if len(expected) == 1 else "problems"
    assert code == 2
    assert out == ""
    assert err == f"tfscaffold: error: spec.yaml: {len(expected)} {noun}:\n" + "\n".join(expected) + "\n"
    assert "Traceback" not in err


def test_bad_spec_table_is_large():
    assert len(BAD_SPECS) >= 30


def test_missing_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["validate", "nope.yaml"], capsys)
    assert code == 2
    assert err == "tfscaffold: error: nope.yaml: 1 problem:\nnope.yaml: spec file not found\n"


def test_directory_given_as_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("specs").mkdir()
    code, _, err = _run(["validate", "specs"], capsys)
    assert code == 2
    assert err == "tfscaffold: error: specs: 1 problem:\nspecs: is a directory, expected a YAML spec file\n"


def test_non_utf8_bytes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_bytes(BASE.encode() + b"tags: {Team: caf\xe9}\n")
    code, _, err = _run(["validate", "spec.yaml"], capsys)
    assert code == 2
    assert err == ("tfscaffold: error: spec.yaml: 1 problem:\n"
                   "spec.yaml:9:17: invalid UTF-8 byte 0xe9; save the file as UTF-8\n")


def test_file_over_size_limit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_text(BASE + "#" * MAX_SPEC_BYTES + "\n", encoding="utf-8")
    code, _, err = _run(["validate", "spec.yaml"], capsys)
    assert code == 2
    assert err == ("tfscaffold: error: spec.yaml: 1 problem:\n"
                   f"spec.yaml: file is larger than the {MAX_SPEC_BYTES} byte limit for a spec\n")


def test_endless_stream_read_bounded(tmp_path, monkeypatch, capsys):
    # /dev/zero reports size 0 but never ends; only a bounded read stops it.
    code, _, err = _run(["validate", "/dev/zero"], capsys)
    assert code == 2
    assert f"/dev/zero: file is larger than the {MAX_SPEC_BYTES} byte limit for a spec" in err


def test_utf8_byte_order_mark_accepted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    code, out, _ = _run(["validate", "spec.yaml"], capsys)
    assert code == 0
    assert "valid" in out


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\nspec_version: *a9\n"


def _merge_key_bomb() -> str:
    lines = ["m0: &m0 {k0: 1, k1: 2}"]
    for level in range(1, 40):
        lines.append(f"m{level}: &m{level} {{<<: [*m{level - 1}, *m{level - 1}], x{level}: 1}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [_billion_laughs(), _merge_key_bomb()], ids=["billion-laughs", "merge-keys"])
def test_expansion_bomb_refused_quickly(text):
    # Expanded in full, the first is 10**10 strings and the second 2**40 keys.
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "bomb.yaml")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert f"more than {MAX_SPEC_NODES} values once YAML aliases and merge keys are expanded" in str(caught.value)
    assert elapsed < 2.0
    assert peak < 50 * 1024 * 1024


def test_merge_keys_follow_yaml_rules():
    loaded = load_spec_text("base: &b {x: 1, y: 2}\nother: &o {y: 3, z: 4}\nm: {<<: [*b, *o], x: 0}\n")
    assert loaded.data["m"] == {"x": 0, "y": 2, "z": 4}


def test_yaml11_strings_kept_as_written(tmp_path):
    from tfscaffold.validation import validate_file

    path = tmp_path / "spec.yaml"
    path.write_text(_with("database: {engine_version: 15.10, name: no}\ntags: {Team: on, Code: 0012}\n"))
    spec = validate_file(path)
    assert spec["database"]["engine_version"] == "15.10"
    assert spec["database"]["name"] == "no"
    assert spec["tags"] == {"Team": "on", "Code": "0012"}


def test_whole_float_read_as_integer(tmp_path):
    from tfscaffold.validation import validate_file

    path = tmp_path / "spec.yaml"
    path.write_text(_with("  port: 8080.0\n"))
    assert validate_file(path)["container"]["port"] == 8080
    assert type(validate_file(path)["container"]["port"]) is int


def test_every_pattern_described_in_words():
    from tfscaffold.validation import load_schema

    def patterns(node, path):
        if isinstance(node, dict):
            if "pattern" in node:
                yield path, node
            for key, value in node.items():
                yield from patterns(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from patterns(value, path + (index,))

    found = list(patterns(load_schema(), ()))
    assert found
    for path, node in found:
        assert node.get("x-pattern-description"), f"{'/'.join(map(str, path))} has no x-pattern-description"


def test_traceback_only_with_verbose(tmp_path):
    (tmp_path / "spec.yaml").write_text("- a\n")

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tfscaffold", *options, "validate", "spec.yaml"],
                              cwd=tmp_path, capture_output=True, text=True, env=_ENV, timeout=60)

    quiet, verbose = run(), run("--verbose")
    assert quiet.returncode == 2
    assert "Traceback" not in quiet.stderr
    assert verbose.returncode == 2
    assert "Traceback" in verbose.stderr


def test_unwritable_output_no_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_text(BASE)
    Path("taken").write_text("a file where the output folder should be")
    code, _, err = _run(["generate", "spec.yaml", "-o", "taken", "--no-validate"], capsys)
    assert code == 1
    assert err.startswith("tfscaffold: error: ")
    assert "Traceback" not in err


# Cookiecutter context: the same checks, with each line naming the variable.

def _context(**overrides: object) -> dict[str, object]:
    from tfscaffold.render import template_context

    context = {}
    for key, value in template_context().items():
        if key.startswith("_"):
            continue
        context[key] = value[0] if isinstance(value, list) else value
    context["project_slug"] = "payment-service-test"
    context["blue_green_weights_blue"] = "100"
    context["blue_green_weights_green"] = "0"
    context.update(overrides)
    return context


def test_context_reports_every_problem(capsys):
    context = _context(container_port="abc", container_memory="512", service_name="Bad_Name",
                       project_slug="Bad_Name-test", autoscaling_min_capacity="9", secrets="{not json")

    code = hooks.pre_generate(context)

    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "tfscaffold: error: cookiecutter context: 5 problems:\n"
        f'cookiecutter variable service_name: service.name: invalid value "Bad_Name"; expected {NAME_WORDS}\n'
        'cookiecutter variable container_port: container.port: invalid value "abc"; expected a whole number\n'
        "cookiecutter variable container_memory: container.memory: invalid value 512; with cpu 512, expected one "
        "of: 1024, 2048, 3072, 4096\n"
        "cookiecutter variable autoscaling_min_capacity: autoscaling.min_capacity: min_capacity 9 is greater than "
        "max_capacity 6\n"
        "cookiecutter variable secrets: secrets: invalid JSON (Expecting property name enclosed in double quotes); "
        "expected a mapping of secret name to description\n"
    )


@pytest.mark.parametrize("word", ["false", "no", "0", "off"])
def test_context_boolean_words(word):
    spec = hooks.spec_from_context(_context(load_balancer_internal=word))
    assert spec["load_balancer"]["internal"] is False


def test_cookiecutter_shows_hook_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(REPO_ROOT), "--no-input", "-o", str(tmp_path),
         "container_memory=512", "service_name=Bad_Name", "container_port=abc"],
        capture_output=True, text=True, env={**_ENV, "TFSCAFFOLD_NO_VALIDATE": "1"}, timeout=120,
    )
    assert result.returncode != 0
    assert "tfscaffold: error: cookiecutter context: 3 problems:" in result.stderr
    assert 'cookiecutter variable container_port: container.port: invalid value "abc"' in result.stderr
    assert list(tmp_path.iterdir()) == []
