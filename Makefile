# Set-up and the two everyday commands: `make example` and `make test`.
# Terraform runs offline against the AWS provider mirror that
# scripts/provider_mirror.py builds under .cache/terraform.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
MIRROR := $(CURDIR)/.cache/terraform

export CHECKPOINT_DISABLE := 1
export TF_CLI_CONFIG_FILE := $(MIRROR)/terraformrc

.PHONY: install mirror example test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

mirror: install
	$(PYTHON) scripts/provider_mirror.py $(MIRROR) >/dev/null

example: mirror
	$(PYTHON) -m tfscaffold generate examples/payment-service.yaml --output-dir build --force

test: mirror
	$(PYTHON) -m pytest $(PYTEST_ARGS)
