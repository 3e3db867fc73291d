"""Measure rendering: the Jinja floor, single generation against cookiecutter, and batches."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2
import yaml

import measure
from tfscaffold import jinja as tfscaffold_jinja
from tfscaffold.context import spec_to_context
from tfscaffold.project import state_files, write_files
from tfscaffold.render import PROJECT_TEMPLATE, TEMPLATE_ROOT, Renderer, is_empty_render
from tfscaffold.validation import validate_file

EXAMPLE = TEMPLATE_ROOT / "examples" / "payment-service.yaml"


def write_specs(folder: Path, count: int) -> list[Path]:
    """Write count specs that differ from the example in service.name only; return their paths."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        data["service"]["name"] = f"payment-service-{index:04d}"
        path = folder / f"{data['service']['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


class JinjaFloor:
    """The project templates compiled in a plain Jinja environment, rendered without files."""

    def __init__(self) -> None:
        started = time.perf_counter()
        folder = TEMPLATE_ROOT / PROJECT_TEMPLATE
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            extensions=[tfscaffold_jinja.TfscaffoldExtension],
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        names = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
        self.templates = [(name, environment.get_template(name)) for name in names]
        self.compile_seconds = time.perf_counter() - started

    def render(self, context: dict[str, Any]) -> dict[str, str]:
        """Return {template name: text} for one context, without empty renders."""
        files = {}
        for name, template in self.templates:
            text = template.render(cookiecutter=context)
            if not is_empty_render(text):
                files[name] = text
        return files

    def time_contexts(self, contexts: list[dict[str, Any]]) -> float:
        """Return the seconds it takes to render every context, starting with an empty model cache."""
        # The templates' tfscaffold_model filter caches models per context;
        # a repeated run would otherwise skip validation and model building.
        tfscaffold_jinja._MODEL_CACHE.clear()
        started = time.perf_counter()
        for context in contexts:
            self.render(context)
        return time.perf_counter() - started


def check_floor_output(floor: JinjaFloor, spec_path: Path) -> None:
    """Raise AssertionError unless the floor renders the same text as tfscaffold for a spec."""
    context = spec_to_context(validate_file(spec_path))
    expected = Renderer().render(context)
    rendered = floor.render(context)
    assert rendered == expected, "the floor renders other text than tfscaffold"


STAGES = ("parse and validate spec", "build context", "render templates", "state file", "write files")


def time_stages(spec_paths: list[Path], scratch: Path, repeat: int) -> dict[str, float]:
    """Return the seconds per spec of each stage of generate, run in this process on one core.

    Each figure is the median over repeat passes of the mean over spec_paths.
    """
    renderer = Renderer()
    passes = []
    for index in range(repeat):
        folder = scratch / f"pass-{index}"
        folder.mkdir()
        passes.append(_time_stages_once(renderer, spec_paths, folder))
    return {stage: measure.median([figures[stage] for figures in passes]) for stage in STAGES}


def _time_stages_once(renderer: Renderer, spec_paths: list[Path], scratch: Path) -> dict[str, float]:
    tfscaffold_jinja._MODEL_CACHE.clear()
    totals = dict.fromkeys(STAGES, 0.0)

    def timed(stage: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = step()
        totals[stage] += time.perf_counter() - started
        return result

    for path in spec_paths:
        spec = timed(STAGES[0], lambda: validate_file(path))
        context = timed(STAGES[1], lambda: spec_to_context(spec))
        files = timed(STAGES[2], lambda: _render_like_generate(renderer, context, spec))
        files.update(timed(STAGES[3], lambda: state_files(spec, files)))
        timed(STAGES[4], lambda: _write_like_generate(scratch, spec["project_slug"], files))
    return {stage: total / len(spec_paths) for stage, total in totals.items()}


@dataclass(frozen=True)
class Alternative:
    """A step of generate timed as it is and as it could be done, in seconds per spec."""

    step: str
    current: str
    alternative: str
    current_seconds: float
    alternative_seconds: float
    same_result: bool
    used_by_generate: bool


def time_alternatives(spec_paths: list[Path], repeat: int) -> list[Alternative]:
    """Time steps of generate done two ways, to show what the faster way saves.

    Each faster way is checked to give the same result for these specs.
    """
    texts = [path.read_text(encoding="utf-8") for path in spec_paths]
    specs = [validate_file(path) for path in spec_paths]
    contexts = [spec_to_context(spec) for spec in specs]
    alternatives = []
    if getattr(yaml, "__with_libyaml__", False):
        same = all(_node_values(yaml.compose(text, Loader=yaml.SafeLoader))
                   == _node_values(yaml.compose(text, Loader=yaml.CSafeLoader)) for text in texts)
        alternatives.append(Alternative(
            "parse the spec file's YAML", "`yaml.compose` with the pure-Python `SafeLoader`",
            "`yaml.compose` with libyaml's `CSafeLoader`",
            _per_item(texts, lambda text: yaml.compose(text, Loader=yaml.SafeLoader), repeat),
            _per_item(texts, lambda text: yaml.compose(text, Loader=yaml.CSafeLoader), repeat),
            same,
            used_by_generate=False,
        ))

    def model_from_context(context: dict[str, Any]) -> Any:
        tfscaffold_jinja._MODEL_CACHE.clear()
        return tfscaffold_jinja.model_from_context(context)

    def prime(item: tuple[dict[str, Any], dict[str, Any]]) -> bool:
        return tfscaffold_jinja.prime_model_cache(*item)

    pairs = list(zip(contexts, specs))
    same = all(_primed_model(context, spec) == model_from_context(context) for context, spec in pairs)
    alternatives.append(Alternative(
        "build the template model", "`tfscaffold_model` filter: validate the context again, then build",
        "`prime_model_cache`: convert the context back, compare with the validated spec, then build",
        _per_item(contexts, model_from_context, repeat),
        _per_item(pairs, prime, repeat),
        same,
        used_by_generate=True,
    ))
    return alternatives


def _primed_model(context: dict[str, Any], spec: dict[str, Any]) -> Any:
    tfscaffold_jinja._MODEL_CACHE.clear()
    if not tfscaffold_jinja.prime_model_cache(context, spec):
        return None
    return tfscaffold_jinja.model_from_context(context)


def _node_values(node: yaml.Node) -> Any:
    """Return a composed node as plain data with line and column, to compare two parsers."""
    mark = (node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.MappingNode):
        return mark, [(_node_values(key), _node_values(value)) for key, value in node.value]
    if isinstance(node, yaml.SequenceNode):
        return mark, [_node_values(item) for item in node.value]
    return mark, node.tag, node.value


def _per_item(items: list[Any], step: Callable[[Any], Any], repeat: int) -> float:
    """Return the median over repeat passes of the mean seconds step takes per item."""
    passes = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            step(item)
        passes.append((time.perf_counter() - started) / len(items))
    return measure.median(passes)


def _render_like_generate(renderer: Renderer, context: dict[str, Any], spec: dict[str, Any]) -> dict[str, str]:
    # generate.render_files primes the model cache so that the templates skip validation.
    tfscaffold_jinja.prime_model_cache(context, spec)
    return renderer.render(context)


def _write_like_generate(output_dir: Path, slug: str, files: dict[str, str]) -> None:
    # The same file system steps as generate: a scratch folder, the files, a rename.
    with tempfile.TemporaryDirectory(prefix=".tfscaffold-", dir=output_dir) as scratch:
        staging = Path(scratch) / slug
        write_files(staging, files)
        os.replace(staging, output_dir / slug)


@dataclass
class CommandSeries:
    """The runs of one command, in the order they ran."""

    label: str
    runs: list[measure.Run] = field(default_factory=list)

    def median(self, figure: str) -> float:
        """Return the median of a Run field over the runs that exited with 0."""
        return measure.median([getattr(run, figure) for run in self.runs if run.exit_code == 0])

    def spread(self, figure: str) -> tuple[float, float]:
        """Return the minimum and maximum of a Run field over the successful runs."""
        values = [getattr(run, figure) for run in self.runs if run.exit_code == 0]
        return (min(values), max(values)) if values else (float("nan"), float("nan"))

    def failures(self) -> int:
        """Return how many runs exited with a non-zero code."""
        return sum(1 for run in self.runs if run.exit_code != 0)


class Commands:
    """Build the command lines measured, with the repository's code first on the import path."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = dict(os.environ, PYTHONPATH=str(TEMPLATE_ROOT), CHECKPOINT_DISABLE="1")
        # Keep cookiecutter's replay files and clones inside the work folder.
        config = work / "cookiecutter-config.yaml"
        config.write_text(
            yaml.safe_dump({"cookiecutters_dir": str(work / "cookiecutters"), "replay_dir": str(work / "replay")})
        )
        self.env["COOKIECUTTER_CONFIG"] = str(config)

    def tfscaffold(self, *args: str) -> list[str]:
        """Return the argv of `tfscaffold ARGS`."""
        return [sys.executable, "-m", "tfscaffold", *args]

    def cookiecutter(self, output_dir: Path) -> list[str]:
        """Return the argv of bare cookiecutter on this template, without prompts or hooks."""
        return [sys.executable, "-m", "cookiecutter", "--no-input", "--accept-hooks", "no", "-o", str(output_dir),
                str(TEMPLATE_ROOT)]

    def run_fresh(self, build_argv: Callable[[Path], list[str]], parent: Path | None = None) -> measure.Run:
        """Run a command that writes into a new, empty output folder under parent, then delete the folder."""
        output = Path(tempfile.mkdtemp(prefix="tfscaffold-bench-out-", dir=parent or self.work))
        try:
            return measure.run_command(build_argv(output), env=self.env, cwd=TEMPLATE_ROOT)
        finally:
            shutil.rmtree(output, ignore_errors=True)


def compare_single(commands: Commands, repeat: int, warmup: int) -> tuple[CommandSeries, CommandSeries]:
    """Run single-spec generate and bare cookiecutter in turn; return both series."""
    single = CommandSeries("tfscaffold generate --no-validate, one spec")
    bare = CommandSeries("cookiecutter --no-input --accept-hooks no")

    def single_argv(output: Path) -> list[str]:
        return commands.tfscaffold("generate", str(EXAMPLE), "-o", str(output), "--no-validate")

    for index in range(warmup + repeat):
        single_run = commands.run_fresh(single_argv)
        bare_run = commands.run_fresh(commands.cookiecutter)
        if index >= warmup:
            single.runs.append(single_run)
            bare.runs.append(bare_run)
    return single, bare


@dataclass
class BatchSize:
    """The batch command and the Jinja floor, measured in turn for one number of specs.

    For the largest batch, one_worker is the same command with `-j 1`, to
    show what the worker processes gain, and in_memory the same command
    writing to a tmpfs folder, to show what the disk costs.
    """

    count: int
    batch: CommandSeries
    floor_seconds: list[float]
    one_worker: CommandSeries | None = None
    in_memory: CommandSeries | None = None

    @property
    def floor(self) -> float:
        """Return the median floor time in seconds."""
        return measure.median(self.floor_seconds)

    def ratio(self, figure: str) -> float:
        """Return the median over runs of the batch's figure divided by the floor of the same turn."""
        pairs = zip(self.batch.runs, self.floor_seconds)
        return measure.median([getattr(run, figure) / floor for run, floor in pairs if run.exit_code == 0 and floor])


def measure_batches(
    commands: Commands, floor: JinjaFloor, folders: dict[int, Path], repeat: int, warmup: int,
    memory_folder: Path | None,
) -> list[BatchSize]:
    """Measure `generate --no-validate FOLDER` and the floor for every folder of specs.

    memory_folder, a folder on tmpfs such as /dev/shm, receives the output of
    one more series of the largest batch; None skips that series.
    """
    results = []
    largest = max(folders)
    for count, folder in sorted(folders.items()):
        contexts = [spec_to_context(validate_file(path)) for path in sorted(folder.iterdir())]
        size = BatchSize(count, CommandSeries(f"generate {count} specs"), [])
        if count == largest:
            size.one_worker = CommandSeries(f"generate {count} specs -j 1")
            if memory_folder:
                size.in_memory = CommandSeries(f"generate {count} specs into {memory_folder}")

        def batch_argv(output: Path, folder: Path = folder, *options: str) -> list[str]:
            return commands.tfscaffold("generate", str(folder), "-o", str(output), "--no-validate", *options)

        for index in range(warmup + repeat):
            floor_seconds = floor.time_contexts(contexts)
            run = commands.run_fresh(batch_argv)
            one_worker = commands.run_fresh(lambda output: batch_argv(output, folder, "-j", "1")) \
                if size.one_worker else None
            in_memory = commands.run_fresh(batch_argv, memory_folder) if size.in_memory else None
            if index >= warmup:
                size.floor_seconds.append(floor_seconds)
                size.batch.runs.append(run)
                if one_worker:
                    size.one_worker.runs.append(one_worker)
                if in_memory:
                    size.in_memory.runs.append(in_memory)
        results.append(size)
    return results


def startup_seconds(commands: Commands, repeat: int) -> float:
    """Return the median time to start Python and import the tfscaffold command."""
    argv = [sys.executable, "-c", "import tfscaffold.cli"]
    runs = [measure.run_command(argv, env=commands.env, cwd=TEMPLATE_ROOT) for _ in range(repeat)]
    return measure.median([run.wall for run in runs])
