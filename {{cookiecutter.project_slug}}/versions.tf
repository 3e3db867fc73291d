{% set m = cookiecutter | tfscaffold_model -%}
# Terraform and provider versions this project is written for.

terraform {
  required_version = ">= 1.3.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = {{ m.aws_provider.version | hcl }}
    }
  }
}
