"""Smoke run of the benchmark with tiny sizes, so that it keeps working; no timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = REPO_ROOT / "benchmarks" / "bench.py"


def test_benchmark_smoke_run(tmp_path):
    pytest.importorskip("matplotlib")
    page = tmp_path / "docs" / "benchmarks.md"
    plot = tmp_path / "docs" / "batch.png"
    work = tmp_path / "work"
    env = dict(os.environ, CHECKPOINT_DISABLE="1")

    result = subprocess.run(
        [
            sys.executable, str(BENCHMARK),
            "--sizes", "1,2", "--repeat", "1", "--warmup", "0",
            "--projects", "2", "--terraform-repeat", "1",
            "--output", str(page), "--plot", str(plot), "--work-dir", str(work),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr
    text = page.read_text()
    for heading in ("## Machine", "## Targets", "## 1. Floor", "## 2 and 3. One spec", "## 4. Batches", "## 5. Terraform"):
        assert heading in text
    assert "| 1 | " in text
    assert "| 2 | " in text
    assert "![Batch time against the number of specs](batch.png)" in text
    assert "n/a" not in text.split("## 5.")[0]
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert list(work.iterdir()) == []


def test_benchmark_rejects_bad_sizes(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARK), "--sizes", "0,5", "--output", str(tmp_path / "page.md")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "invalid sizes '0,5'; every size must be at least 1" in result.stderr
    assert not (tmp_path / "page.md").exists()
