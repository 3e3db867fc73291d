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
from tfscaffold.profiles import explain_profile
from tfscaffold.projects import RunOptions, results_json, run_command, summary_table, worst_exit_code
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
    gen.add_argument("--policy-check", action="store_true",
                     help="scan the project with checkov and fail on findings policy/checkov-skips.yaml does not accept")
    gen.add_argument("-j", "--jobs", type=_positive_int, default=None,
                     help="worker processes for several specs (default: the number of CPUs available)")
    gen.set_defaults(handler=_generate)
    _add_regeneration_commands(commands)
    return parser


def _add_regeneration_commands(commands: argparse._SubParsersAction) -> None:
    """Add regenerate, check, diff and migrate; each takes project folders or glob patterns."""
    project_help = "project folder or glob pattern, such as 'services/*' (quoted, so tfscaffold expands it)"
    json_help = "print the results as JSON on stdout instead of a table"

    regen = commands.add_parser("regenerate", help="merge a new render of the spec into projects, keeping hand edits")
    regen.add_argument("projects", nargs="+", metavar="PROJECT", help=project_help)
    choice = regen.add_mutually_exclusive_group()
    choice.add_argument(
        "--spec", type=Path, help="render this spec file and store it in the project (one project only)"
    )
    choice.add_argument("--abort", action="store_true",
                        help="undo a regeneration that left conflict markers: restore the files it changed")
    regen.add_argument("--write-spec", action="store_true",
                       help="also rewrite .tfscaffold/spec.yaml in the current spec_version")
    regen.add_argument(
        "--no-validate", action="store_true", help="skip terraform fmt and validate of the merged project"
    )
    regen.add_argument("--json", action="store_true", help=json_help)
    regen.set_defaults(handler=_regenerate)

    commands_help = {
        "check": "exit 0 when regenerating would change nothing, 1 when it would (a drift check for CI)",
        "diff": "print the unified diff that regenerating would apply; exit 1 when it is not empty",
        "migrate": "rewrite each project's .tfscaffold/spec.yaml in the current spec_version",
    }
    for name, help_text in commands_help.items():
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("projects", nargs="+", metavar="PROJECT", help=project_help)
        sub.add_argument("--json", action="store_true", help=json_help)
        sub.set_defaults(handler=_run_projects, command_name=name)


def _validate(args: argparse.Namespace) -> int:
    spec = validate_file(args.spec)
    print(f"{args.spec}: valid ({spec['service']['environment']} environment, project {spec['project_slug']})")
    for line in explain_profile(spec):
        print(line)
    return 0


def _generate(args: argparse.Namespace) -> int:
    if not is_single_spec(args.spec):
        return _generate_batch(args)
    spec = validate_file(args.spec[0])
    target = generate(spec, args.output_dir, validate=not args.no_validate, force=args.force,
                      policy_check=args.policy_check)
    print(f"generated {target}")
    return 0


def _regenerate(args: argparse.Namespace) -> int:
    args.command_name = "abort" if args.abort else "regenerate"
    if args.abort and args.write_spec:
        print("tfscaffold: error: --write-spec cannot be combined with --abort", file=sys.stderr)
        return 2
    return _run_projects(args)


def _run_projects(args: argparse.Namespace) -> int:
    options = RunOptions(
        spec_file=getattr(args, "spec", None),
        write_spec=getattr(args, "write_spec", False),
        validate=not getattr(args, "no_validate", False),
    )
    results = run_command(args.command_name, args.projects, options)
    if args.json:
        sys.stdout.write(results_json(args.command_name, results))
    elif args.command_name == "diff":
        sys.stdout.write("".join(result.diff for result in results))
        sys.stderr.write(summary_table(results))
    else:
        sys.stdout.write(summary_table(results))
    return worst_exit_code(results)


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
    except OSError as error:
        # A file system failure outside the spec, such as an unwritable output folder.
        if args.verbose:
            log.exception("failed")
        print(f"tfscaffold: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
