# Terraform and provider versions this project is written for.

terraform {
  required_version = ">= 1.3.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39.0, < 7.0.0"
    }
  }
}
