{% set m = cookiecutter | tfscaffold_model -%}
# SecureString parameters the tasks read as environment variables. Terraform
# creates each with a placeholder and never changes the value afterwards, so an
# operator sets the real secret outside Terraform and no secret enters the code.

locals {
{%- if m.secrets %}
  secrets = {
{%- for secret in m.secrets %}
    {{ secret.name | hcl }} = {
      variable    = {{ secret.variable | hcl }}
      description = {{ secret.description | hcl }}
    }
{%- endfor %}
  }
{%- else %}
  secrets = {}
{%- endif %}

  parameter_arns = concat(
    [for parameter in aws_ssm_parameter.secret : parameter.arn],
    [aws_ssm_parameter.db_master_password.arn],
  )
}

resource "aws_ssm_parameter" "secret" {
  for_each = local.secrets

  name        = "{{ m.names.parameter_path }}/${each.key}"
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
  name        = "{{ m.names.parameter_path }}/db-master-password"
  description = "Master password of the Aurora cluster"
  type        = "SecureString"
  key_id      = aws_kms_key.this.arn
  value       = var.db_master_password

  tags = local.tags
}
