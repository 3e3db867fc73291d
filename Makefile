# Set-up and the two everyday commands: `make example` and `make test`.
# Terraform runs offline against the AWS provider mirror that
# scripts/provider_mirror.py builds under .cache/terraform. checkov gets a
# virtualenv of its own under .cache/checkov-venv, because its bc-python-hcl2
# dependency replaces the hcl2 module of python-hcl2 that the tests use.

VENV   ?= .venv
PYTHON := $(VENV)/bin/python
MIRROR := $(CURDIR)/.cache/terraform
CHECKOV := $(CURDIR)/.cache/checkov-venv/bin/checkov

export CHECKPOINT_DISABLE := 1
export TF_CLI_CONFIG_FILE := $(MIRROR)/terraformrc

.PHONY: install mirror checkov example test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

mirror: install
	$(PYTHON) scripts/provider_mirror.py $(MIRROR) >/dev/null

checkov: $(CHECKOV)

$(CHECKOV): scripts/install_checkov.sh
	scripts/install_checkov.sh $(CURDIR)/.cache/checkov-venv

example: mirror
	$(PYTHON) -m tfscaffold generate examples/payment-service.yaml --output-dir build --force

test: mirror checkov
	$(PYTHON) -m pytest $(PYTEST_ARGS)
