"""Write the benchmark results page and the plot of batch time against the number of specs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from targets import Verdict, all_verdicts
from units import divide, format_bytes, format_ms, format_ratio, format_seconds, linear_fit

if TYPE_CHECKING:
    from bench import Results


def write(results: Results, page: Path, plot: Path) -> None:
    """Write the results page and the plot."""
    page.parent.mkdir(parents=True, exist_ok=True)
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot_batches(results, plot)
    page.write_text(render_page(results, os.path.relpath(plot, page.parent)), encoding="utf-8")


def plot_batches(results: Results, path: Path) -> None:
    """Plot batch wall time and the floor against the number of specs, with a fitted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [size.count for size in results.batches]
    walls = [size.batch.median("wall") for size in results.batches]
    lows = [wall - size.batch.spread("wall")[0] for wall, size in zip(walls, results.batches)]
    highs = [size.batch.spread("wall")[1] - wall for wall, size in zip(walls, results.batches)]
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    axes.errorbar(counts, walls, yerr=[lows, highs], marker="o", capsize=4,
                  label="tfscaffold generate --no-validate (median, min to max)")
    axes.plot(counts, [size.batch.median("cpu") for size in results.batches], marker="^",
              label="its CPU time, all processes (median)")
    axes.plot(counts, [size.floor for size in results.batches], marker="s",
              label="floor: Jinja rendering in one process, no files")
    largest = results.batches[-1]
    if largest.in_memory and largest.in_memory.runs:
        axes.plot([largest.count], [largest.in_memory.median("wall")], marker="D", linestyle="none",
                  label="the same, output on tmpfs (median)")
    if len(counts) >= 2:
        intercept, slope = linear_fit(counts, walls)
        axes.plot([0, max(counts)], [intercept, intercept + slope * max(counts)], linestyle="--", color="grey",
                  label=f"fit of wall time: {intercept:.2f} s + {slope * 1000:.1f} ms per spec")
    axes.set_xlabel("specs in the batch")
    axes.set_ylabel("seconds")
    axes.set_title("Batch generation time against the number of specs")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def render_page(results: Results, plot_name: str) -> str:
    """Return the Markdown of the results page."""
    verdicts = all_verdicts(results)
    sections = [
        _introduction(results),
        _machine(results),
        _targets(verdicts),
        _misses(verdicts),
        _stages(results),
        _single(results),
        _batches(results, plot_name),
        _terraform(results),
    ]
    return "\n".join(section for section in sections if section)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cpu(series) -> str:
    return f"{format_seconds(series.median('cpu'))} ({format_seconds(series.median('system'))})"


def _introduction(results: Results) -> str:
    options = results.options
    sizes = ",".join(str(size) for size in options.sizes)
    return f"""# Benchmarks

Written by `python benchmarks/bench.py` (this run: `--sizes {sizes} --repeat {options.repeat} \
--warmup {options.warmup} --projects {options.projects} --terraform-repeat {options.terraform_repeat}`).
Commands are timed as whole processes. Wall time runs from start to exit.
CPU time is user plus system time of the process and of the worker processes
it waited for. Peak memory is the largest resident set of any one of those
processes. CPU time and peak memory come from the operating system's `wait4`.
Every figure is the median of the counted runs, after warm-up runs that are
not counted. The
floor and the batch command run in turn, as do single generate and
cookiecutter, so that a change in machine speed during the run affects both
sides of a ratio alike.
"""


def _machine(results: Results) -> str:
    rows = [[item, value] for item, value in results.machine]
    rows.append(["load average (1/5/15 min) before / after", f"{results.load_before} — {results.load_after}"])
    rows.append(["CPUs' worth of work done in parallel, before / after", results.parallel_cpus])
    note = (
        "The last row comes from a fixed loop run in one process alone and then in one process per CPU at "
        "the same time. Below the number of CPUs, other processes used them during the run; parallel "
        "batches lose more to that than the single-process floor does.\n"
    )
    return "## Machine\n\n" + _table(["item", "value"], rows) + "\n" + note


def _targets(verdicts: list[Verdict]) -> str:
    rows = [[verdict.target, verdict.measured, "met" if verdict.met else "**missed**"] for verdict in verdicts]
    return "## Targets\n\n" + _table(["target", "measured", "result"], rows)


def _misses(verdicts: list[Verdict]) -> str:
    missed = [verdict for verdict in verdicts if not verdict.met and verdict.explanation]
    if not missed:
        return ""
    parts = ["### Why targets are missed, and what would fix them\n"]
    seen = set()
    for verdict in missed:
        if verdict.explanation in seen:
            continue
        seen.add(verdict.explanation)
        parts.append(f"**{verdict.target}** ({verdict.measured}). {verdict.explanation}\n")
    return "\n".join(parts)


def _stages(results: Results) -> str:
    total = sum(results.stages.values())
    rows = [[stage, format_ms(seconds), f"{divide(seconds, total) * 100:.0f}%"] for stage, seconds in results.stages.items()]
    rows.append(["total", format_ms(total), "100%"])
    largest = results.batches[-1]
    return f"""## 1. Floor and where a spec's time goes

The floor renders the same templates with a plain `jinja2.Environment` in one
process and writes no files: {format_seconds(largest.floor)} for {largest.count} spec(s), \
{format_ms(divide(largest.floor, largest.count))} per spec. That includes the templates'
`tfscaffold_model` filter, which validates the context and builds the template
model, and excludes reading spec files, writing files, starting Python and
compiling the templates. The benchmark checks that the floor renders the same
text as tfscaffold. `generate` itself primes the filter's cache with a model
built from the spec it validated, so its templates skip the second validation
(see the table after the stages).

Once per process: starting Python and importing `tfscaffold.cli` takes
{format_seconds(results.startup)}; compiling the templates takes {format_seconds(results.compile_seconds)}.

Per spec, in one process on one core (mean over {results.stage_specs} specs, median of \
{results.options.repeat} passes):

""" + _table(["stage of generate", "time per spec", "share"], rows) + _alternatives(results)


def _alternatives(results: Results) -> str:
    if not results.alternatives:
        return ""
    rows = [
        [item.step, f"{item.current}: {format_ms(item.current_seconds)}",
         f"{item.alternative}: {format_ms(item.alternative_seconds)}",
         "yes" if item.same_result else "**no**", "yes" if item.used_by_generate else "no"]
        for item in results.alternatives
    ]
    return """
Steps timed done two ways, per spec. "Same result" shows whether both ways
gave the same result for every spec measured (the same YAML nodes and
positions, the same template model). The floor and cookiecutter build the
template model the slower way.

""" + _table(["step", "slower way", "faster way", "same result", "generate uses the faster way"], rows)


def _single(results: Results) -> str:
    rows = []
    for series in (results.single, results.cookiecutter):
        low, high = series.spread("wall")
        rows.append([series.label, format_seconds(series.median("wall")), f"{format_seconds(low)} to {format_seconds(high)}",
                     format_seconds(series.median("cpu")), f"{series.median('peak_mib'):.1f} MiB", str(series.failures())])
    return """## 2 and 3. One spec: tfscaffold against bare cookiecutter

Both write the project of `examples/payment-service.yaml` into an empty
folder. cookiecutter runs on this repository's template with `--no-input` and
`--accept-hooks no`, so it neither validates nor runs Terraform;
`tfscaffold generate --no-validate` validates the spec and stores it in the
project, and skips Terraform.

""" + _table(["command", "wall (median)", "wall (min to max)", "CPU", "peak memory", "failed runs"], rows)


def _batches(results: Results, plot_name: str) -> str:
    rows = []
    for size in results.batches:
        wall = size.batch.median("wall")
        rows.append([
            str(size.count), format_seconds(wall), _cpu(size.batch),
            f"{divide(size.count, wall):.0f} specs/s", f"{size.batch.median('peak_mib'):.1f} MiB",
            format_seconds(size.floor), format_ratio(size.ratio("wall")), str(size.batch.failures()),
        ])
    largest = results.batches[-1]
    for label, series in ((f"{largest.count}, `-j 1`", largest.one_worker),
                          (f"{largest.count}, output on tmpfs", largest.in_memory)):
        if series is None:
            continue
        wall = series.median("wall")
        rows.append([
            label, format_seconds(wall), _cpu(series), f"{divide(largest.count, wall):.0f} specs/s",
            f"{series.median('peak_mib'):.1f} MiB", "", "", str(series.failures()),
        ])
    header = ["specs", "wall", "CPU (of it system)", "throughput", "peak memory", "floor", "wall / floor (pairwise)",
              "failed runs"]
    return f"""## 4. Batches

`tfscaffold generate FOLDER -o OUT --no-validate` with one worker process per
available CPU, on specs that differ from the example in `service.name` only.
The last rows run the largest batch again in the same turns: with a single
worker process, to show what the parallel workers gain on this machine, and
writing to a tmpfs folder (`/dev/shm`), to show what the disk costs. System
time is the kernel's share of the CPU time, mostly creating the 17 files and
3 folders (one a scratch folder) of each project.

""" + _table(header, rows) + f"\n![Batch time against the number of specs]({plot_name})\n"


def _terraform(results: Results) -> str:
    terraform = results.terraform
    if terraform.skipped:
        return f"## 5. Terraform init and validate\n\nNot measured: {terraform.skipped}\n"
    rows = []
    for scenario in terraform.scenarios:
        for position, pick in (("first", scenario.first), ("later", scenario.later)):
            rows.append([
                scenario.scenario.label, position, format_seconds(pick("init")), format_seconds(pick("validate")),
                format_seconds(pick("total")), format_bytes(pick("new_bytes")),
            ])
        if not scenario.all_ok():
            rows.append([scenario.scenario.label, "**a run failed**", "", "", "", ""])
    text = f"""## 5. Terraform init and validate, first project against later ones

Each scenario runs `terraform init -backend=false` and `terraform validate`
on {results.options.projects} projects in turn, as tfscaffold does in a scratch copy, and
is repeated {results.options.terraform_repeat} times with a new plugin cache each time. "Later" is
the median over the second and later projects. "New disk" is the space of
files that did not exist before, in the project's `.terraform` folder and the
plugin cache, counting each inode once and symlinks as themselves.

""" + _table(["scenario", "project", "init", "validate", "init + validate", "new disk"], rows)
    combined = terraform.combined
    if combined:
        state = "" if combined.ok else " (failed: " + combined.output.strip().splitlines()[-1] + ")"
        text += (
            f"\nFor comparison, {combined.projects} projects called as modules of one root configuration: "
            f"init {format_seconds(combined.init)}, validate {format_seconds(combined.validate)}{state}.\n"
        )
    for series in terraform.validated_batches:
        text += (
            f"\nWhole command, `{series.label}`: {format_seconds(series.median('wall'))} wall, "
            f"{format_seconds(series.median('cpu'))} CPU (median of {len(series.runs)}; failed runs: {series.failures()}).\n"
        )
    return text
