#!/usr/bin/env bash
# Install checkov into a virtualenv of its own.
#
# checkov depends on bc-python-hcl2, which installs a module named `hcl2` over
# the one of python-hcl2 that the tests use, so the two cannot share the
# project's virtualenv. tfscaffold runs this checkov as a subprocess.
#
# Usage: scripts/install_checkov.sh [VENV_DIR]   (default: .cache/checkov-venv)
set -euo pipefail

CHECKOV_VERSION=3.3.30
cd "$(dirname "$0")/.."
venv=${1:-.cache/checkov-venv}
python=${PYTHON:-python3}

if [ -x "$venv/bin/checkov" ] && "$venv/bin/python" -m pip show checkov 2>/dev/null | grep -qx "Version: $CHECKOV_VERSION"; then
  exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
echo "installed checkov $CHECKOV_VERSION in $venv"
