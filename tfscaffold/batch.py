"""Generate many projects in one run, spread over worker processes.

The arguments name spec files, glob patterns or folders of specs. Every spec
is loaded and validated, specs that would write the same project are
rejected, and the rest are rendered, checked and written by a pool of worker
processes. A failing spec is reported and the others go on. The exit code of
the run is the highest exit code of any spec.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tfscaffold.errors import SpecError, TfscaffoldError
from tfscaffold.generate import generate, render_files
from tfscaffold.plugin_cache import shared_plugin_cache
from tfscaffold.project import write_files
from tfscaffold.render import default_renderer
from tfscaffold.terraform import find_terraform, install_providers
from tfscaffold.validation import validate_file

log = logging.getLogger(__name__)

SPEC_SUFFIXES = (".yaml", ".yml")
GLOB_CHARACTERS = "*?["


@dataclass(frozen=True)
class Outcome:
    """The result for one spec: the project written, or the error and exit code."""

    source: str
    project: Path | None = None
    exit_code: int = 0
    error: str = ""


@dataclass(frozen=True)
class BatchReport:
    """The outcomes of a batch run in argument order, with the run's figures."""

    outcomes: list[Outcome]
    jobs: int
    seconds: float

    @property
    def exit_code(self) -> int:
        """Return the highest exit code of any spec, 0 when all succeeded."""
        return max((outcome.exit_code for outcome in self.outcomes), default=0)

    @property
    def failures(self) -> list[Outcome]:
        """Return the outcomes of the specs that failed."""
        return [outcome for outcome in self.outcomes if outcome.exit_code != 0]

    def summary(self, output_dir: Path) -> str:
        """Return the one-line summary printed at the end of a run."""
        generated = len(self.outcomes) - len(self.failures)
        processes = "process" if self.jobs == 1 else "processes"
        return (
            f"generated {generated} of {len(self.outcomes)} projects in {output_dir} "
            f"({self.seconds:.1f} s, {self.jobs} worker {processes})"
        )


def is_single_spec(arguments: Sequence[str]) -> bool:
    """Tell whether the arguments name one spec file, which `generate` handles without a batch."""
    if len(arguments) != 1:
        return False
    return not _is_pattern(arguments[0]) and not Path(arguments[0]).is_dir()


def expand_arguments(arguments: Sequence[str]) -> tuple[list[Path], list[Outcome]]:
    """Return the spec files that paths, glob patterns and folders name, without repeats.

    A folder contributes its *.yaml and *.yml files but not those of its
    subfolders, which a pattern such as 'specs/**/*.yaml' reaches.
    An argument that names no file becomes a failed outcome. A path that does
    not exist is kept, so that loading it reports the missing file.
    """
    files: list[Path] = []
    unmatched: list[Outcome] = []
    seen: set[Path] = set()
    for argument in arguments:
        matches = _spec_files(argument)
        if not matches:
            unmatched.append(Outcome(argument, exit_code=SpecError.exit_code, error=_no_match_message(argument)))
        for path in matches:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, unmatched


def _is_pattern(argument: str) -> bool:
    return any(character in argument for character in GLOB_CHARACTERS)


def _spec_files(argument: str) -> list[Path]:
    if _is_pattern(argument):
        return [Path(match) for match in sorted(glob.glob(argument, recursive=True)) if Path(match).is_file()]
    path = Path(argument)
    if path.is_dir():
        return sorted(child for child in path.iterdir() if child.suffix in SPEC_SUFFIXES and child.is_file())
    return [path]


def _no_match_message(argument: str) -> str:
    if _is_pattern(argument):
        return f"{argument}: no file matches this pattern"
    return f"{argument}: the folder contains no .yaml or .yml files"


def available_cpus() -> int:
    """Return the number of CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def generate_batch(
    arguments: Sequence[str],
    output_dir: Path,
    *,
    validate: bool = True,
    force: bool = False,
    jobs: int | None = None,
) -> BatchReport:
    """Generate a project for every spec the arguments name; return the outcomes.

    Progress goes to the log, one line per spec as it finishes. With validate,
    every `terraform init` of the run shares one provider plugin cache.
    Raises TerraformNotFoundError when validate is set and no Terraform is
    found, because no project could pass then.
    """
    started = time.perf_counter()
    output_dir = Path(output_dir)
    if validate:
        find_terraform()
    else:
        log.warning("skipped terraform fmt and validate for every project (--no-validate)")
    paths, unmatched = expand_arguments(arguments)
    progress = _Progress(len(paths) + len(unmatched))
    for outcome in unmatched:
        progress.report(outcome)
    jobs = max(1, min(jobs or available_cpus(), len(paths)))
    if not paths:
        return BatchReport(unmatched, jobs, time.perf_counter() - started)

    # Forked workers inherit the compiled templates, so each is compiled once per run.
    default_renderer()

    outcomes: list[Outcome] = []
    with _worker_pool(jobs) as pool:
        loaded = _load_all(pool, paths, progress, outcomes)
        loaded = _reject_shared_projects(loaded, progress, outcomes)
        with _terraform_env(loaded, validate) as env_extra:
            tasks = [(source, spec, output_dir, validate, force, env_extra) for source, _, spec in loaded]
            for _, outcome in _run_tasks(pool, _write_project, tasks):
                progress.report(outcome)
                outcomes.append(outcome)

    rank = {str(path): index for index, path in enumerate(paths)}
    outcomes.sort(key=lambda outcome: rank[outcome.source])
    return BatchReport(unmatched + outcomes, jobs, time.perf_counter() - started)


class _Progress:
    """Log one numbered line per finished spec."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def report(self, outcome: Outcome) -> None:
        self.done += 1
        counter = f"[{self.done:>{len(str(self.total))}}/{self.total}]"
        if outcome.exit_code == 0:
            log.info("%s generated %s", counter, outcome.project)
        else:
            log.error("%s failed: %s", counter, outcome.error)


def _worker_pool(jobs: int) -> ProcessPoolExecutor:
    # fork shares the parent's compiled templates and starts fast. Other
    # platforms spawn fresh interpreters, which compile the templates once each.
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    level = logging.getLogger("tfscaffold").getEffectiveLevel()
    return ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(level,))


def _start_worker(level: int) -> None:
    # Each outcome comes back to the parent, which reports it. Unless --verbose
    # asked for debug output, the per-project info lines of the workers would
    # only interleave with the progress lines.
    if level > logging.DEBUG:
        logging.getLogger("tfscaffold").setLevel(logging.ERROR)


def _run_tasks(pool: ProcessPoolExecutor, function: Callable[..., Any], tasks: list[tuple]) -> Iterator[tuple[int, Any]]:
    """Yield (task index, result) in the order tasks finish.

    The first item of each task is its spec's source. When a worker process
    dies, every task not finished by then yields a failed Outcome.
    """
    # NOTE: a worker that dies (killed, out of memory) breaks the whole pool,
    # so the specs still queued fail with it instead of running elsewhere.
    futures = {}
    for index, task in enumerate(tasks):
        try:
            futures[pool.submit(function, *task)] = index
        except BrokenProcessPool as error:
            # A worker died in an earlier phase of the run.
            yield index, _worker_died(task[0], error)
    for future in as_completed(futures):
        index = futures[future]
        try:
            result = future.result()
        except BrokenProcessPool as error:
            result = _worker_died(tasks[index][0], error)
        yield index, result


def _worker_died(source: str, error: BrokenProcessPool) -> Outcome:
    message = f"{source}: a worker process stopped unexpectedly ({error}); run this spec on its own"
    return Outcome(source, exit_code=1, error=message)


def _load_all(
    pool: ProcessPoolExecutor, paths: list[Path], progress: _Progress, outcomes: list[Outcome]
) -> list[tuple[str, str, bytes]]:
    """Validate every spec in the workers; return (source, project slug, pickled spec) in argument order."""
    loaded: dict[int, tuple[str, str, bytes]] = {}
    for index, result in _run_tasks(pool, _load_spec, [(str(path),) for path in paths]):
        if isinstance(result, Outcome):
            progress.report(result)
            outcomes.append(result)
        else:
            loaded[index] = result
    return [loaded[index] for index in sorted(loaded)]


def _reject_shared_projects(
    loaded: list[tuple[str, str, bytes]], progress: _Progress, outcomes: list[Outcome]
) -> list[tuple[str, str, bytes]]:
    """Keep the first spec of each project slug and fail the later ones, which would overwrite it."""
    first_source: dict[str, str] = {}
    unique = []
    for source, slug, spec in loaded:
        if slug not in first_source:
            first_source[slug] = source
            unique.append((source, slug, spec))
            continue
        message = (
            f"{source}: writes the same project {slug} as {first_source[slug]}; "
            "change service.name or service.environment_suffix in one of the two specs"
        )
        outcome = Outcome(source, exit_code=SpecError.exit_code, error=message)
        progress.report(outcome)
        outcomes.append(outcome)
    return unique


@contextlib.contextmanager
def _terraform_env(loaded: list[tuple[str, str, bytes]], validate: bool) -> Iterator[dict[str, str] | None]:
    """Yield the environment that points every init of the run at one plugin cache, or None."""
    if not validate or not loaded:
        yield None
        return
    with shared_plugin_cache() as cache:
        log.info("terraform init shares one provider plugin cache for all %d projects: %s", len(loaded), cache.describe())
        source, _, spec = loaded[0]
        yield cache.env() if _fill_plugin_cache(source, pickle.loads(spec), cache.env()) else None


def _fill_plugin_cache(source: str, spec: dict[str, Any], env_extra: dict[str, str]) -> bool:
    """Run init on the first project alone, so the parallel inits after it only read the cache.

    Terraform does not make concurrent installs into one cache safe. Return
    False when this init fails, so that each project installs its providers on
    its own and reports its own error.
    """
    with tempfile.TemporaryDirectory(prefix="tfscaffold-") as scratch:
        project = Path(scratch) / spec["project_slug"]
        write_files(project, render_files(spec))
        try:
            install_providers(find_terraform(), project, env_extra=env_extra)
        except TfscaffoldError as error:
            log.warning("filling the plugin cache from %s failed, so each project installs its own providers: %s", source, error)
            return False
    return True


def _load_spec(source: str) -> tuple[str, str, bytes] | Outcome:
    # The parent keeps each spec pickled, about 1 KB against 8 KB as objects.
    try:
        spec = validate_file(source)
    except Exception as error:  # noqa: BLE001 - one spec's failure must not stop the batch
        return _failure(source, error)
    return source, spec["project_slug"], pickle.dumps(spec)


def _write_project(
    source: str, spec: bytes, output_dir: Path, validate: bool, force: bool, env_extra: dict[str, str] | None
) -> Outcome:
    try:
        project = generate(pickle.loads(spec), output_dir, validate=validate, force=force, env_extra=env_extra)
    except Exception as error:  # noqa: BLE001 - one spec's failure must not stop the batch
        return _failure(source, error)
    return Outcome(source, project=project)


def _failure(source: str, error: Exception) -> Outcome:
    if isinstance(error, TfscaffoldError):
        exit_code, text = error.exit_code, str(error)
    else:
        log.debug("unexpected error for %s", source, exc_info=True)
        exit_code, text = 1, f"{type(error).__name__}: {error}"
    if not text.startswith(source):
        text = f"{source}: {text}"
    return Outcome(source, exit_code=exit_code, error=text)
