"""Command-line interface: parses options and calls the library."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from tfscaffold import __version__
from tfscaffold.errors import TfscaffoldError
from tfscaffold.generate import generate
from tfscaffold.profiles import explain_profile
from tfscaffold.validation import validate_file

log = logging.getLogger("tfscaffold")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the tfscaffold command."""
    parser = argparse.ArgumentParser(prog="tfscaffold", description="Render blue/green Terraform projects from a YAML service spec.")
    parser.add_argument("--version", action="version", version=f"tfscaffold {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every decision and show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("validate", help="validate a spec; exit 0 when valid, 2 when not")
    check.add_argument("spec", type=Path, help="YAML spec file")
    check.set_defaults(handler=_validate)

    gen = commands.add_parser("generate", help="write the Terraform project of a spec")
    gen.add_argument("spec", type=Path, help="YAML spec file")
    gen.add_argument("-o", "--output-dir", type=Path, default=Path("."), help="folder to create the project in (default: current folder)")
    gen.add_argument("--no-validate", action="store_true", help="skip terraform fmt and validate (the templates render formatted code)")
    gen.add_argument("--force", action="store_true", help="replace an existing project folder")
    gen.set_defaults(handler=_generate)
    return parser


def _validate(args: argparse.Namespace) -> int:
    spec = validate_file(args.spec)
    print(f"{args.spec}: valid ({spec['service']['environment']} environment, project {spec['project_slug']})")
    for line in explain_profile(spec):
        print(line)
    return 0


def _generate(args: argparse.Namespace) -> int:
    spec = validate_file(args.spec)
    target = generate(spec, args.output_dir, validate=not args.no_validate, force=args.force)
    print(f"generated {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tfscaffold command and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="tfscaffold: %(message)s")
    try:
        return args.handler(args)
    except TfscaffoldError as error:
        if args.verbose:
            log.exception("failed")
        print(f"tfscaffold: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
