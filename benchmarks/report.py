"""Write the benchmark results page and the plot of batch time against the number of specs."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench import Results

# The targets, as ratios from the same run.
FLOOR_RATIO_TARGET = 1.5
COOKIECUTTER_RATIO_TARGET = 1.0
# CPU time per added spec in the last step between batch sizes may exceed the step before by
# this factor; work that grows faster than the number of specs would exceed it.
LINEAR_TOLERANCE = 1.25
# Peak memory of the largest batch may exceed the smallest batch's by this factor.
MEMORY_TOLERANCE = 1.10
LATER_PROJECT_TARGET = 0.25
# A later project that allocates less than this has no provider copy (the binary is 170 MB).
NO_COPY_BYTES = 1_000_000


@dataclass(frozen=True)
class Verdict:
    """One target: its wording, the measured figure, whether it is met, and why not."""

    target: str
    measured: str
    met: bool
    explanation: str = ""


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


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Return (intercept, slope) of the least-squares line through the points."""
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread if spread else 0.0
    return mean_y - slope * mean_x, slope


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


def _seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f} s"


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value * 1000:.2f} ms"


def _ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def _bytes(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f} MB"
    return f"{value / 1000:.0f} kB"


def _divide(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator and not math.isnan(denominator) else float("nan")


def _cpu(series) -> str:
    return f"{_seconds(series.median('cpu'))} ({_seconds(series.median('system'))})"


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


def all_verdicts(results: Results) -> list[Verdict]:
    """Evaluate every target from the figures of one run."""
    verdicts = [_floor_verdict(results), _cookiecutter_verdict(results)]
    verdicts += _scaling_verdicts(results)
    verdicts += _terraform_verdicts(results)
    return verdicts


def _floor_verdict(results: Results) -> Verdict:
    largest = results.batches[-1]
    wall_ratio = largest.ratio("wall")
    cpu_ratio = largest.ratio("cpu")
    measured = (
        f"{_ratio(wall_ratio)} wall (median of pairwise ratios; {_seconds(largest.batch.median('wall'))} against "
        f"{_seconds(largest.floor)}), CPU time {_ratio(cpu_ratio)}"
    )
    met = wall_ratio <= FLOOR_RATIO_TARGET
    return Verdict(f"batch of {largest.count} specs within {FLOOR_RATIO_TARGET}x of the floor", measured, met,
                   "" if met else _floor_why(results))


def _floor_why(results: Results) -> str:
    largest = results.batches[-1]
    cpus = int(dict(results.machine)["CPUs available to the benchmark"])
    extra = sorted(((stage, seconds) for stage, seconds in results.stages.items() if stage != "render templates"),
                   key=lambda item: item[1], reverse=True)
    listed = ", ".join(f"{stage} {_ms(seconds)}" for stage, seconds in extra)
    fixed = results.startup + results.compile_seconds
    per_spec_cpu = _batch_cpu_slope(results)
    floor_per_spec = _divide(largest.floor, largest.count)
    text = (
        f"The floor only renders, {_ms(floor_per_spec)} per spec. Per spec, the batch also does this work "
        f"(stage table, one core): {listed}. Once per run, it starts Python and imports its modules "
        f"({_seconds(results.startup)}) and compiles the templates ({_seconds(results.compile_seconds)}). "
        f"In total the batch spends about {_ms(per_spec_cpu)} of CPU time per spec, "
        f"{_ratio(_divide(per_spec_cpu, floor_per_spec))} the floor's (slope of CPU time against specs). "
        f"It spreads that over {cpus} CPUs, but other processes used them too, so they did "
        f"{results.parallel_cpus} CPUs' worth of work in parallel during this run (machine table). "
        "The `-j 1` row of the batch table shows what the second worker gained, and the tmpfs row what "
        "the disk cost."
    )
    budget = FLOOR_RATIO_TARGET * largest.floor - fixed
    if budget > 0 and not math.isnan(per_spec_cpu):
        needed = largest.count * per_spec_cpu / budget
        text += (
            f" Estimate, assuming the work divides evenly over free CPUs: the target needs about {needed:.1f} "
            f"CPUs for {largest.count} specs."
        )
    savings = [item for item in results.alternatives if item.same_result and not item.used_by_generate]
    text += " What would fix it on fewer CPUs is less work per spec."
    for item in savings:
        text += (
            f" To {item.step} with {item.alternative} would take {_ms(item.alternative_seconds)} instead of "
            f"{_ms(item.current_seconds)} per spec, with the same result for these specs. The spec loader "
            "takes `node.style is None` as the mark of a plain scalar, but libyaml reports an empty string, "
            "so the loader needs that check changed and a fallback to the pure-Python loader for its error "
            "messages."
        )
    text += " Writing the files is the other large step, and it is bound by the file system."
    return text


def _batch_cpu_slope(results: Results) -> float:
    batches = results.batches
    if len(batches) < 2:
        return _divide(batches[-1].batch.median("cpu"), batches[-1].count)
    _, slope = linear_fit([size.count for size in batches], [size.batch.median("cpu") for size in batches])
    return slope


def _cookiecutter_verdict(results: Results) -> Verdict:
    ratios = [
        _divide(single.wall, bare.wall)
        for single, bare in zip(results.single.runs, results.cookiecutter.runs)
        if single.exit_code == 0 and bare.exit_code == 0
    ]
    ratio = sorted(ratios)[len(ratios) // 2] if ratios else float("nan")
    measured = (
        f"{_ratio(ratio)} (median of pairwise ratios; {_seconds(results.single.median('wall'))} against "
        f"{_seconds(results.cookiecutter.median('wall'))})"
    )
    met = ratio <= COOKIECUTTER_RATIO_TARGET
    why = ""
    if not met:
        why = (
            f"Starting Python and importing tfscaffold's modules alone takes {_seconds(results.startup)}. "
            "What would fix it: import jsonschema and the Terraform runner only when they are used."
        )
    return Verdict("single `generate` no slower than bare cookiecutter", measured, met, why)


def _scaling_verdicts(results: Results) -> list[Verdict]:
    batches = results.batches
    if len(batches) < 3:
        note = "needs at least three batch sizes"
        return [Verdict("cost linear in the number of specs", note, True), Verdict("flat memory per spec", note, True)]
    marginal = _marginal(batches, "cpu")
    steps = ", ".join(f"{earlier.count}→{later.count}: {_ms(cost)}"
                      for earlier, later, cost in zip(batches, batches[1:], marginal))
    linear = marginal[-1] <= LINEAR_TOLERANCE * marginal[-2]
    first_peak = batches[0].batch.median("peak_mib")
    last_peak = batches[-1].batch.median("peak_mib")
    flat = last_peak <= MEMORY_TOLERANCE * first_peak
    memory_why = "" if flat else (
        "The parent keeps one pickled spec (about 1 KB) and one outcome per spec; growth beyond that "
        "means something else accumulates and needs a memory profile of the largest batch."
    )
    return [
        Verdict("cost linear in the number of specs",
                f"CPU time per added spec, {steps} (target: the last step at most {LINEAR_TOLERANCE}x the one "
                "before)", linear, "" if linear else _linear_why(results)),
        Verdict("flat memory per spec",
                f"peak {first_peak:.1f} MiB at {batches[0].count} spec(s), {last_peak:.1f} MiB at "
                f"{batches[-1].count} (largest single process)", flat, memory_why),
    ]


def _marginal(batches, figure: str) -> list[float]:
    """Return the added seconds of figure per added spec between consecutive batch sizes."""
    return [
        _divide(later.batch.median(figure) - earlier.batch.median(figure), later.count - earlier.count)
        for earlier, later in zip(batches, batches[1:])
    ]


def _linear_why(results: Results) -> str:
    batches = results.batches
    system = _marginal(batches, "system")
    user = [total - kernel for total, kernel in zip(_marginal(batches, "cpu"), system)]
    text = (
        f"Per added spec, user time went from {_ms(user[-2])} to {_ms(user[-1])} and system time from "
        f"{_ms(system[-2])} to {_ms(system[-1])} between the last two steps."
    )
    largest = batches[-1]
    if largest.in_memory and largest.in_memory.runs:
        in_memory = largest.in_memory.median("system")
        on_disk = largest.batch.median("system")
        text += (
            f" Written to tmpfs, the largest batch took {_seconds(in_memory)} of system time instead of "
            f"{_seconds(on_disk)}"
        )
        text += (
            ", so most of the growth is the cost of creating files on this disk, which other processes "
            "were writing to as well."
            if in_memory < 0.5 * on_disk else
            ", so the disk does not explain the growth; profile the largest batch for work that grows "
            "with the number of specs."
        )
    text += (
        " What would fix it: fewer file system operations per project (`write_files` calls `mkdir` for each "
        "of the 17 files, where two calls would do), and an output folder on a less busy disk."
    )
    return text


def _terraform_verdicts(results: Results) -> list[Verdict]:
    terraform = results.terraform
    if terraform.skipped:
        return [Verdict("second project's init and validate at most 1/4 of the first's",
                        f"not measured: {terraform.skipped}", False, "The Terraform part did not run.")]
    verdicts = []
    for scenario in terraform.scenarios:
        if not scenario.scenario.shared_cache:
            continue
        ratio = _divide(scenario.later("total"), scenario.first("total"))
        measured = (
            f"{_ratio(ratio)} with {scenario.scenario.label.split(',')[0]}: later projects "
            f"{_seconds(scenario.later('total'))} against {_seconds(scenario.first('total'))}"
        )
        met = ratio <= LATER_PROJECT_TARGET
        verdicts.append(Verdict("second project's init and validate at most 1/4 of the first's", measured, met,
                                "" if met else _later_project_why(results, scenario)))
        copied = scenario.later("new_bytes")
        verdicts.append(Verdict(
            "no extra provider copy for later projects",
            f"{_bytes(copied)} newly allocated per later project with {scenario.scenario.label.split(',')[0]}",
            copied < NO_COPY_BYTES,
            "" if copied < NO_COPY_BYTES else "Terraform did not link the cached provider; check the lock-file setting.",
        ))
    return verdicts


def _later_project_why(results: Results, scenario) -> str:
    terraform = results.terraform
    validate = scenario.later("validate")
    share = _divide(validate, scenario.later("total")) * 100
    starts = f"starts the provider {terraform.provider_starts} times" if terraform.provider_starts else "starts the provider"
    text = (
        f"The copy is gone, but `terraform validate` costs {_seconds(validate)} in every project, "
        f"{share:.0f}% of a later project's time. Each validate {starts} (counted in its debug log), and "
        "the provider is a 170 MB binary that loads its schema each time. No cache removes that, because it "
        "is work per Terraform process, not per provider copy."
    )
    if scenario.scenario.unpacked_mirror:
        text += (
            " With the unpacked mirror the first project does not extract anything either, so first and "
            "later projects cost the same and the ratio stays near 1."
        )
    combined = terraform.combined
    if combined and combined.ok:
        per_project = (combined.init + combined.validate) / combined.projects
        text += (
            f" What would fix it: validate the projects of a batch in one Terraform process. Measured here, "
            f"{combined.projects} projects called as modules of one root took {_seconds(combined.init)} to init "
            f"and {_seconds(combined.validate)} to validate, {_seconds(per_project)} per project. A module call "
            "checks variables against the values it passes, unlike `validate` on a root configuration, so "
            "a failure would have to be rerun per project to report it."
        )
    return text


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
    rows = [[stage, _ms(seconds), f"{_divide(seconds, total) * 100:.0f}%"] for stage, seconds in results.stages.items()]
    rows.append(["total", _ms(total), "100%"])
    largest = results.batches[-1]
    return f"""## 1. Floor and where a spec's time goes

The floor renders the same templates with a plain `jinja2.Environment` in one
process and writes no files: {_seconds(largest.floor)} for {largest.count} spec(s), \
{_ms(_divide(largest.floor, largest.count))} per spec. That includes the templates'
`tfscaffold_model` filter, which validates the context and builds the template
model, and excludes reading spec files, writing files, starting Python and
compiling the templates. The benchmark checks that the floor renders the same
text as tfscaffold. `generate` itself primes the filter's cache with a model
built from the spec it validated, so its templates skip the second validation
(see the table after the stages).

Once per process: starting Python and importing `tfscaffold.cli` takes
{_seconds(results.startup)}; compiling the templates takes {_seconds(results.compile_seconds)}.

Per spec, in one process on one core (mean over {results.stage_specs} specs, median of \
{results.options.repeat} passes):

""" + _table(["stage of generate", "time per spec", "share"], rows) + _alternatives(results)


def _alternatives(results: Results) -> str:
    if not results.alternatives:
        return ""
    rows = [
        [item.step, f"{item.current}: {_ms(item.current_seconds)}",
         f"{item.alternative}: {_ms(item.alternative_seconds)}",
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
        rows.append([series.label, _seconds(series.median("wall")), f"{_seconds(low)} to {_seconds(high)}",
                     _seconds(series.median("cpu")), f"{series.median('peak_mib'):.1f} MiB", str(series.failures())])
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
            str(size.count), _seconds(wall), _cpu(size.batch),
            f"{_divide(size.count, wall):.0f} specs/s", f"{size.batch.median('peak_mib'):.1f} MiB",
            _seconds(size.floor), _ratio(size.ratio("wall")), str(size.batch.failures()),
        ])
    largest = results.batches[-1]
    for label, series in ((f"{largest.count}, `-j 1`", largest.one_worker),
                          (f"{largest.count}, output on tmpfs", largest.in_memory)):
        if series is None:
            continue
        wall = series.median("wall")
        rows.append([
            label, _seconds(wall), _cpu(series), f"{_divide(largest.count, wall):.0f} specs/s",
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
                scenario.scenario.label, position, _seconds(pick("init")), _seconds(pick("validate")),
                _seconds(pick("total")), _bytes(pick("new_bytes")),
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
            f"init {_seconds(combined.init)}, validate {_seconds(combined.validate)}{state}.\n"
        )
    for series in terraform.validated_batches:
        text += (
            f"\nWhole command, `{series.label}`: {_seconds(series.median('wall'))} wall, "
            f"{_seconds(series.median('cpu'))} CPU (median of {len(series.runs)}; failed runs: {series.failures()}).\n"
        )
    return text
