"""Byte-for-byte comparison of the example project with the files in tests/golden.

After an intended template change, run
`TFSCAFFOLD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` to rewrite
tests/golden/payment-service-test/ from the current render, then review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import read_tree

GOLDEN_DIR = Path(__file__).resolve().parent / "golden" / "payment-service-test"
UPDATE_VARIABLE = "TFSCAFFOLD_UPDATE_GOLDEN"
# Copies of the generated files, compared with them in test_regenerate.py.
BASE_PREFIX = ".tfscaffold/base/"


def test_golden_example(render_variant):
    project = render_variant("example")

    if os.environ.get(UPDATE_VARIABLE) == "1":
        shutil.rmtree(GOLDEN_DIR, ignore_errors=True)
        shutil.copytree(project.path, GOLDEN_DIR, ignore=shutil.ignore_patterns("base"))

    assert GOLDEN_DIR.is_dir(), f"{GOLDEN_DIR} is missing; set {UPDATE_VARIABLE}=1 to create it"
    rendered = {path: text for path, text in project.files().items() if not path.startswith(BASE_PREFIX)}
    golden = read_tree(GOLDEN_DIR)
    assert sorted(rendered) == sorted(golden)
    for relative, content in rendered.items():
        assert content == golden[relative], f"{relative} differs from {GOLDEN_DIR / relative}"
