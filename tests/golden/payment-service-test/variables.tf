# Inputs that change between deployments; everything else comes from the spec.

variable "region" {
  description = "AWS region to deploy into, for example eu-west-1."
  type        = string
  default     = "eu-west-1"
}

variable "blue_image" {
  description = "Container image the blue service runs."
  type        = string
  default     = "public.ecr.aws/nginx/nginx:1.27"
}

variable "green_image" {
  description = "Container image the green service runs."
  type        = string
  default     = "public.ecr.aws/nginx/nginx:1.27"
}

variable "blue_weight" {
  description = "Percent of listener traffic sent to blue, a whole number from 0 to 100; blue_weight + green_weight must be 100."
  type        = number
  default     = 100

  validation {
    condition     = var.blue_weight >= 0 && var.blue_weight <= 100 && floor(var.blue_weight) == var.blue_weight
    error_message = "The blue_weight value must be a whole number from 0 to 100."
  }
}

variable "green_weight" {
  description = "Percent of listener traffic sent to green, a whole number from 0 to 100; blue_weight + green_weight must be 100."
  type        = number
  default     = 0

  validation {
    condition     = var.green_weight >= 0 && var.green_weight <= 100 && floor(var.green_weight) == var.green_weight
    error_message = "The green_weight value must be a whole number from 0 to 100."
  }
}

variable "db_master_password" {
  description = "Master password of the Aurora cluster, 16 to 41 printable ASCII characters except /, \", @ and space; set it with TF_VAR_db_master_password."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[!#-.0-?A-~]{16,41}$", var.db_master_password))
    error_message = "The db_master_password value must be 16 to 41 printable ASCII characters other than /, \", @ and space."
  }
}
