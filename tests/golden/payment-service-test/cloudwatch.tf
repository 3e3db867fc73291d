# Log groups, all encrypted with the project's key and expiring after
# 30 days. The Aurora and Container Insights groups
# would otherwise be created by AWS on first write, without retention, and
# would outlive `terraform destroy`.

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/payment-service-test"
  retention_in_days = 30
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "postgresql" {
  name              = "/aws/rds/cluster/payment-service-test/postgresql"
  retention_in_days = 30
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "container_insights" {
  name              = "/aws/ecs/containerinsights/payment-service-test/performance"
  retention_in_days = 30
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/vpc/payment-service-test/flow-logs"
  retention_in_days = 30
  kms_key_id        = aws_kms_key.this.arn

  tags = local.tags
}
