# SecureString parameters the tasks read as environment variables. Terraform
# creates each with a placeholder and never changes the value afterwards, so an
# operator sets the real secret outside Terraform and no secret enters the code.

locals {
  secrets = {
    "stripe-api-key" = {
      variable    = "STRIPE_API_KEY"
      description = "Secret key for the Stripe API"
    }
    "webhook-signing-secret" = {
      variable    = "WEBHOOK_SIGNING_SECRET"
      description = "Shared secret that signs outgoing payment webhooks"
    }
  }

  parameter_arns = concat(
    [for parameter in aws_ssm_parameter.secret : parameter.arn],
    [aws_ssm_parameter.db_master_password.arn],
  )
}

resource "aws_ssm_parameter" "secret" {
  for_each = local.secrets

  name        = "/payment-service/test/${each.key}"
  description = each.value.description
  type        = "SecureString"
  key_id      = aws_kms_key.this.arn
  value       = "placeholder: set the real value with aws ssm put-parameter --overwrite"

  tags = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "db_master_password" {
  name        = "/payment-service/test/db-master-password"
  description = "Master password of the Aurora cluster"
  type        = "SecureString"
  key_id      = aws_kms_key.this.arn
  value       = var.db_master_password

  tags = local.tags
}
