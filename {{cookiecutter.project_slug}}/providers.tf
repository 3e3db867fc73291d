{% set m = cookiecutter | tfscaffold_model -%}
# AWS provider configuration.

provider "aws" {
  region = var.region
}
