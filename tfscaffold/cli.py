"""Command-line interface: parses options and calls the library."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from tfscaffold import __version__
from tfscaffold.batch import generate_batch, is_single_spec
from tfscaffold.errors import TfscaffoldError
from tfscaffold.generate import generate
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

    gen = commands.add_parser("generate", help="write the Terraform project of each spec")
    gen.add_argument("spec", nargs="+", help="YAML spec file, glob pattern such as 'specs/*.yaml', or folder of specs")
    gen.add_argument("-o", "--output-dir", type=Path, default=Path("."), help="folder to create the projects in (default: current folder)")
    gen.add_argument("--no-validate", action="store_true", help="skip terraform fmt and validate (the templates render formatted code)")
    gen.add_argument("--force", action="store_true", help="replace existing project folders")
    gen.add_argument("-j", "--jobs", type=_positive_int, default=None,
                     help="worker processes for several specs (default: the number of CPUs available)")
    gen.set_defaults(handler=_generate)
    return parser


def _validate(args: argparse.Namespace) -> int:
    spec = validate_file(args.spec)
    print(f"{args.spec}: valid ({spec['service']['environment']} environment, project {spec['project_slug']})")
    return 0


def _generate(args: argparse.Namespace) -> int:
    if not is_single_spec(args.spec):
        return _generate_batch(args)
    spec = validate_file(args.spec[0])
    target = generate(spec, args.output_dir, validate=not args.no_validate, force=args.force)
    print(f"generated {target}")
    return 0


def _generate_batch(args: argparse.Namespace) -> int:
    report = generate_batch(args.spec, args.output_dir, validate=not args.no_validate, force=args.force, jobs=args.jobs)
    print(report.summary(args.output_dir))
    if report.failures:
        sources = ", ".join(outcome.source for outcome in report.failures)
        print(f"tfscaffold: error: {len(report.failures)} of {len(report.outcomes)} specs failed: {sources}", file=sys.stderr)
    return report.exit_code


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected a whole number of at least 1")
    return value


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
