{% set m = cookiecutter | tfscaffold_model -%}
# Values shared by every file: account facts, zones and tags.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  name_prefix = {{ m.names.prefix | hcl }}
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  azs         = slice(data.aws_availability_zones.available.names, 0, {{ m.network.zone_count }})

  tags = {
{{ m.tags | hcl_map(4) }}
  }
}
