{% set m = cookiecutter | tfscaffold_model -%}
# Customer-managed key for the Aurora storage, the log groups and the SSM parameters.

resource "aws_kms_key" "this" {
  description             = {{ ("Aurora storage, logs and parameters of " ~ m.names.prefix) | hcl }}
  deletion_window_in_days = {{ m.profile.kms_deletion_window_days }}
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.kms.json

  tags = local.tags
{%- if m.profile.prevent_destroy %}

  # Snapshots, backups and parameters stay readable only while the key exists,
  # so protection.prevent_destroy also keeps Terraform from deleting the key.
  lifecycle {
    prevent_destroy = true
  }
{%- endif %}
}

resource "aws_kms_alias" "this" {
  name          = {{ m.names.kms_alias | hcl }}
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs needs the key to encrypt the log groups; the encryption
  # context limits it to this account's log groups in this region.
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}
