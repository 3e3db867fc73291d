# Values shared by every file: account facts, zones and tags.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  name_prefix = "payment-service-test"
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  azs         = slice(data.aws_availability_zones.available.names, 0, 2)

  tags = {
    "Service"           = "payment-service"
    "Environment"       = "test"
    "EnvironmentSuffix" = "test"
    "ManagedBy"         = "terraform"
    "GeneratedBy"       = "tfscaffold"
    "Team"              = "payments"
    "CostCenter"        = "4100"
  }
}
