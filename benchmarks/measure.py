"""Time whole commands and describe the machine a benchmark ran on."""

from __future__ import annotations

import multiprocessing
import os
import platform
import statistics
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class Run:
    """One finished command: wall time, CPU time of it and its children, and peak memory.

    cpu is user plus system time; system time is the kernel's work for the
    command, such as creating files.
    """

    wall: float
    cpu: float
    system: float
    peak_mib: float
    exit_code: int


def run_command(argv: Sequence[str], *, env: dict[str, str], cwd: Path) -> Run:
    """Run argv to completion with output discarded; return its figures.

    CPU time and peak memory come from wait4, so they cover the process and
    the children it waited for, such as worker processes. Peak memory is the
    largest resident set of any one of those processes.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # Linux reports ru_maxrss in KiB.
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)


def median(values: Sequence[float]) -> float:
    """Return the median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def cpu_model() -> str:
    """Return the processor model name from /proc/cpuinfo, or platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    """Return the total memory in GiB from /proc/meminfo, or NaN elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, which show other work on the machine."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _spin(rounds: int) -> float:
    started = time.perf_counter()
    total = 0
    for number in range(rounds):
        total += number * number
    return time.perf_counter() - started


def effective_cpus(cpus: int, rounds: int = 3_000_000) -> float:
    """Return how many CPUs' worth of work cpus busy processes get done at once, from 1 to cpus.

    One process runs a fixed loop alone, then cpus processes run it at the
    same time. On an idle machine the result is close to cpus; other load
    on the machine lowers it.
    """
    context = multiprocessing.get_context("fork") if hasattr(os, "fork") else multiprocessing.get_context()
    with context.Pool(cpus) as pool:
        pool.map(_spin, [1000] * cpus)
        alone = min(pool.apply(_spin, (rounds,)) for _ in range(3))
        started = time.perf_counter()
        pool.map(_spin, [rounds] * cpus, chunksize=1)
        together = time.perf_counter() - started
    return cpus * alone / together


def package_version(name: str) -> str:
    """Return an installed distribution's version, or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def available_cpus() -> int:
    """Return the number of CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine_rows(terraform_version: str) -> list[tuple[str, str]]:
    """Return (item, value) rows that describe this machine and the software measured."""
    cpus = available_cpus()
    return [
        ("date (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("processor", cpu_model()),
        ("CPUs available to the benchmark", str(cpus)),
        ("memory", f"{memory_gib():.1f} GiB"),
        ("operating system", platform.platform()),
        ("Python", platform.python_version()),
        ("Terraform", terraform_version),
        ("Jinja2", package_version("jinja2")),
        ("cookiecutter", package_version("cookiecutter")),
        ("PyYAML", package_version("pyyaml")),
        ("jsonschema", package_version("jsonschema")),
    ]
