"""Measure terraform init and validate per project, with and without a shared plugin cache."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import measure
from tfscaffold.plugin_cache import CACHE_DIR_VARIABLE, shared_plugin_cache
from tfscaffold.render import TEMPLATE_ROOT
from tfscaffold.terraform import INIT_ARGS, SCRATCH_IGNORE, VALIDATE_ARGS, Terraform, terraform_env

MIRROR_SCRIPT = TEMPLATE_ROOT / "scripts" / "provider_mirror.py"

# The template's only variable without a default; a module call must set it.
REQUIRED_VARIABLES = {"db_master_password": "benchmark-password-0001"}


@dataclass(frozen=True)
class Scenario:
    """A way to provide the provider: the mirror layout and whether a plugin cache is shared."""

    label: str
    unpacked_mirror: bool
    shared_cache: bool


SCENARIOS = (
    Scenario("zip mirror, no plugin cache (each init extracts the provider)", False, False),
    Scenario("zip mirror, shared plugin cache (the batch's setting)", False, True),
    Scenario("unpacked mirror, shared plugin cache (the default mirror now)", True, True),
)


@dataclass(frozen=True)
class ProjectRun:
    """Init and validate of one project: seconds each, and bytes newly allocated on disk."""

    init: float
    validate: float
    new_bytes: int
    ok: bool


@dataclass
class ScenarioResult:
    """The project runs of a scenario; runs[r][p] is project p of repetition r."""

    scenario: Scenario
    runs: list[list[ProjectRun]] = field(default_factory=list)

    def first(self, figure: str) -> float:
        """Return the median of a figure for the first project of each repetition."""
        return measure.median([_figure(runs[0], figure) for runs in self.runs])

    def later(self, figure: str) -> float:
        """Return the median of a figure over the second and later projects."""
        return measure.median([_figure(run, figure) for runs in self.runs for run in runs[1:]])

    def all_ok(self) -> bool:
        """Tell whether every init and validate succeeded."""
        return all(run.ok for runs in self.runs for run in runs)


def _figure(run: ProjectRun, figure: str) -> float:
    if figure == "total":
        return run.init + run.validate
    return float(getattr(run, figure))


def load_mirror_script():
    """Import scripts/provider_mirror.py, which is not part of the package."""
    spec = importlib.util.spec_from_file_location("provider_mirror", MIRROR_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_mirrors(work: Path) -> dict[bool, Path]:
    """Build a zip and an unpacked mirror under work; return {unpacked: CLI config path}."""
    mirror_script = load_mirror_script()
    return {unpacked: mirror_script.build_mirror(work / f"mirror-{'unpacked' if unpacked else 'zip'}", unpacked=unpacked)
            for unpacked in (False, True)}


def run_scenario(
    tf: Terraform, scenario: Scenario, config: Path, projects: list[Path], work: Path, repeat: int
) -> ScenarioResult:
    """Init and validate each project in turn, repeat times, with a fresh plugin cache each time."""
    result = ScenarioResult(scenario)
    mirror = config.parent / "mirror"
    for index in range(repeat):
        folder = work / f"terraform-run-{index}"
        # Without TF_PLUGIN_CACHE_DIR set, shared_plugin_cache makes a new temporary folder.
        saved = os.environ.pop(CACHE_DIR_VARIABLE, None)
        try:
            with shared_plugin_cache() as cache:
                extra = {"TF_CLI_CONFIG_FILE": str(config)}
                if scenario.shared_cache:
                    extra.update(cache.env())
                env = terraform_env(extra)
                seen = _inodes_under([mirror])
                result.runs.append([_run_project(tf, project, folder, env, cache.path, seen) for project in projects])
        finally:
            if saved is not None:
                os.environ[CACHE_DIR_VARIABLE] = saved
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _run_project(
    tf: Terraform, project: Path, folder: Path, env: dict[str, str], cache: Path, seen: set[tuple[int, int]]
) -> ProjectRun:
    work_dir = folder / project.name
    shutil.copytree(project, work_dir, ignore=SCRATCH_IGNORE)
    started = time.perf_counter()
    init_code, _ = tf.run(INIT_ARGS, cwd=work_dir, env=env)
    initialised = time.perf_counter()
    validate_code, _ = tf.run(VALIDATE_ARGS, cwd=work_dir, env=env) if init_code == 0 else (1, "")
    finished = time.perf_counter()
    new_bytes = _new_allocated_bytes([work_dir / ".terraform", cache], seen)
    return ProjectRun(initialised - started, finished - initialised, new_bytes, init_code == 0 and validate_code == 0)


def _inodes_under(folders: list[Path]) -> set[tuple[int, int]]:
    inodes = set()
    for folder in folders:
        for root, directories, files in os.walk(folder):
            for name in directories + files:
                status = os.lstat(os.path.join(root, name))
                inodes.add((status.st_dev, status.st_ino))
    return inodes


def _new_allocated_bytes(folders: list[Path], seen: set[tuple[int, int]]) -> int:
    """Return the disk space of files under folders whose inode is not in seen, and add them to seen.

    Symlinks count as themselves, not as what they point to, and a file
    hard-linked from the mirror or an earlier project counts nothing.
    """
    total = 0
    for folder in folders:
        for root, directories, files in os.walk(folder):
            for name in directories + files:
                status = os.lstat(os.path.join(root, name))
                key = (status.st_dev, status.st_ino)
                if key not in seen:
                    seen.add(key)
                    total += status.st_blocks * 512
    return total


@dataclass(frozen=True)
class CombinedRun:
    """Init and validate of several projects as modules of one root configuration."""

    projects: int
    init: float
    validate: float
    ok: bool
    output: str


def run_combined(tf: Terraform, config: Path, projects: list[Path], work: Path) -> CombinedRun:
    """Validate all projects in one Terraform run, each called as a module of one root.

    This measures what validating a batch in one process would cost. tfscaffold
    does not do it, because a module call checks variables differently from a
    root configuration.
    """
    root = work / "combined-root"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    blocks = []
    for index, project in enumerate(projects):
        shutil.copytree(project, root / f"project{index}", ignore=SCRATCH_IGNORE)
        arguments = "".join(f'  {name} = "{value}"\n' for name, value in REQUIRED_VARIABLES.items())
        blocks.append(f'module "project{index}" {{\n  source = "./project{index}"\n{arguments}}}\n')
    (root / "main.tf").write_text("\n".join(blocks))
    env = terraform_env({"TF_CLI_CONFIG_FILE": str(config)})
    started = time.perf_counter()
    init_code, init_output = tf.run(INIT_ARGS, cwd=root, env=env)
    initialised = time.perf_counter()
    validate_code, validate_output = tf.run(VALIDATE_ARGS, cwd=root, env=env) if init_code == 0 else (1, "")
    finished = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    ok = init_code == 0 and validate_code == 0
    return CombinedRun(len(projects), initialised - started, finished - initialised, ok, init_output + validate_output)


def count_provider_starts(tf: Terraform, config: Path, project: Path, work: Path) -> int:
    """Return how often one `terraform validate` starts a provider process, read from its debug log."""
    work_dir = work / "provider-starts" / project.name
    shutil.copytree(project, work_dir, ignore=SCRATCH_IGNORE)
    env = terraform_env({"TF_CLI_CONFIG_FILE": str(config)})
    tf.run(INIT_ARGS, cwd=work_dir, env=env)
    _, output = tf.run(VALIDATE_ARGS, cwd=work_dir, env=dict(env, TF_LOG="debug"))
    shutil.rmtree(work_dir.parent, ignore_errors=True)
    return output.count("provider: starting plugin")
