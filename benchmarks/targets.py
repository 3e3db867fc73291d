"""Judge the benchmark's targets and explain each one that is missed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from units import divide, format_bytes, format_ms, format_ratio, format_seconds, linear_fit

if TYPE_CHECKING:
    from bench import Results

# The targets, as ratios from the same run.
FLOOR_RATIO_TARGET = 1.5
COOKIECUTTER_RATIO_TARGET = 1.0
# Allowed growth of CPU time per added spec from one batch-size step to the next. Work
# that grows faster than the number of specs exceeds this factor.
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
        f"{format_ratio(wall_ratio)} wall (median of pairwise ratios; {format_seconds(largest.batch.median('wall'))} against "
        f"{format_seconds(largest.floor)}), CPU time {format_ratio(cpu_ratio)}"
    )
    met = wall_ratio <= FLOOR_RATIO_TARGET
    return Verdict(f"batch of {largest.count} specs within {FLOOR_RATIO_TARGET}x of the floor", measured, met,
                   "" if met else _floor_why(results))


def _floor_why(results: Results) -> str:
    largest = results.batches[-1]
    cpus = int(dict(results.machine)["CPUs available to the benchmark"])
    extra = sorted(((stage, seconds) for stage, seconds in results.stages.items() if stage != "render templates"),
                   key=lambda item: item[1], reverse=True)
    listed = ", ".join(f"{stage} {format_ms(seconds)}" for stage, seconds in extra)
    fixed = results.startup + results.compile_seconds
    per_spec_cpu = _batch_cpu_slope(results)
    floor_per_spec = divide(largest.floor, largest.count)
    text = (
        f"The floor only renders, {format_ms(floor_per_spec)} per spec. Per spec, the batch also does this work "
        f"(stage table, one core): {listed}. Once per run, it starts Python and imports its modules "
        f"({format_seconds(results.startup)}) and compiles the templates ({format_seconds(results.compile_seconds)}). "
        f"In total the batch spends about {format_ms(per_spec_cpu)} of CPU time per spec, "
        f"{format_ratio(divide(per_spec_cpu, floor_per_spec))} the floor's (slope of CPU time against specs). "
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
            f" To {item.step} with {item.alternative} would take {format_ms(item.alternative_seconds)} instead of "
            f"{format_ms(item.current_seconds)} per spec, with the same result for these specs. The spec loader "
            "takes `node.style is None` as the mark of a plain scalar, but libyaml reports an empty string, "
            "so the loader needs that check changed and a fallback to the pure-Python loader for its error "
            "messages."
        )
    text += " Writing the files is the other large step, and it is bound by the file system."
    return text


def _batch_cpu_slope(results: Results) -> float:
    batches = results.batches
    if len(batches) < 2:
        return divide(batches[-1].batch.median("cpu"), batches[-1].count)
    _, slope = linear_fit([size.count for size in batches], [size.batch.median("cpu") for size in batches])
    return slope


def _cookiecutter_verdict(results: Results) -> Verdict:
    ratios = [
        divide(single.wall, bare.wall)
        for single, bare in zip(results.single.runs, results.cookiecutter.runs)
        if single.exit_code == 0 and bare.exit_code == 0
    ]
    ratio = sorted(ratios)[len(ratios) // 2] if ratios else float("nan")
    measured = (
        f"{format_ratio(ratio)} (median of pairwise ratios; {format_seconds(results.single.median('wall'))} against "
        f"{format_seconds(results.cookiecutter.median('wall'))})"
    )
    met = ratio <= COOKIECUTTER_RATIO_TARGET
    why = ""
    if not met:
        why = (
            f"Starting Python and importing tfscaffold's modules alone takes {format_seconds(results.startup)}. "
            "What would fix it: import jsonschema and the Terraform runner only when they are used."
        )
    return Verdict("single `generate` no slower than bare cookiecutter", measured, met, why)


def _scaling_verdicts(results: Results) -> list[Verdict]:
    batches = results.batches
    if len(batches) < 3:
        note = "needs at least three batch sizes"
        return [Verdict("cost linear in the number of specs", note, True), Verdict("flat memory per spec", note, True)]
    marginal = _marginal(batches, "cpu")
    steps = ", ".join(f"{earlier.count}→{later.count}: {format_ms(cost)}"
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
        divide(later.batch.median(figure) - earlier.batch.median(figure), later.count - earlier.count)
        for earlier, later in zip(batches, batches[1:])
    ]


def _linear_why(results: Results) -> str:
    batches = results.batches
    system = _marginal(batches, "system")
    user = [total - kernel for total, kernel in zip(_marginal(batches, "cpu"), system)]
    text = (
        f"Per added spec, user time went from {format_ms(user[-2])} to {format_ms(user[-1])} and system time from "
        f"{format_ms(system[-2])} to {format_ms(system[-1])} between the last two steps."
    )
    largest = batches[-1]
    if largest.in_memory and largest.in_memory.runs:
        in_memory = largest.in_memory.median("system")
        on_disk = largest.batch.median("system")
        text += (
            f" Written to tmpfs, the largest batch took {format_seconds(in_memory)} of system time instead of "
            f"{format_seconds(on_disk)}"
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
        ratio = divide(scenario.later("total"), scenario.first("total"))
        measured = (
            f"{format_ratio(ratio)} with {scenario.scenario.label.split(',')[0]}: later projects "
            f"{format_seconds(scenario.later('total'))} against {format_seconds(scenario.first('total'))}"
        )
        met = ratio <= LATER_PROJECT_TARGET
        verdicts.append(Verdict("second project's init and validate at most 1/4 of the first's", measured, met,
                                "" if met else _later_project_why(results, scenario)))
        copied = scenario.later("new_bytes")
        verdicts.append(Verdict(
            "no extra provider copy for later projects",
            f"{format_bytes(copied)} newly allocated per later project with {scenario.scenario.label.split(',')[0]}",
            copied < NO_COPY_BYTES,
            "" if copied < NO_COPY_BYTES else "Terraform did not link the cached provider; check the lock-file setting.",
        ))
    return verdicts


def _later_project_why(results: Results, scenario) -> str:
    terraform = results.terraform
    validate = scenario.later("validate")
    share = divide(validate, scenario.later("total")) * 100
    starts = f"starts the provider {terraform.provider_starts} times" if terraform.provider_starts else "starts the provider"
    text = (
        f"The copy is gone, but `terraform validate` costs {format_seconds(validate)} in every project, "
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
            f"{combined.projects} projects called as modules of one root took {format_seconds(combined.init)} to init "
            f"and {format_seconds(combined.validate)} to validate, {format_seconds(per_project)} per project. A module call "
            "checks variables against the values it passes, unlike `validate` on a root configuration, so "
            "a failure would have to be rerun per project to report it."
        )
    return text
