"""Validate the whole cookiecutter context with tfscaffold's spec validator."""

import sys

# Use the tfscaffold package that ships with this template, not another installed copy.
REPO_DIR = {{ cookiecutter._repo_dir | template_dir | tojson }}
sys.path.insert(0, REPO_DIR)

from tfscaffold.hooks import run_hook  # noqa: E402

run_hook("pre", {{ cookiecutter | python_json }}, REPO_DIR)
