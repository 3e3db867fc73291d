{% set m = cookiecutter | tfscaffold_model -%}
# Log groups, all encrypted with the project's key and expiring after
# {{ m.logs.retention_days }} days. The Aurora and Container Insights groups
# would otherwise be created by AWS on first write, without retention, and
# would outlive `terraform destroy`.

resource "aws_cloudwatch_log_group" "app" {
  name              = {{ m.names.log_group | hcl }}
  retention_in_days = {{ m.logs.retention_days }}
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/cluster/{{ m.names.aurora_cluster }}/postgresql"
  retention_in_days = {{ m.logs.retention_days }}
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "container_insights" {
  name              = "/aws/ecs/containerinsights/{{ m.names.cluster }}/performance"
  retention_in_days = {{ m.logs.retention_days }}
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = {{ m.names.flow_log_group | hcl }}
  retention_in_days = {{ m.logs.retention_days }}
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}
