{% set m = cookiecutter | tfscaffold_model -%}
# Aurora PostgreSQL cluster, encrypted with the project's KMS key, with one
# instance per availability zone in turn. `availability_zones` is deliberately
# not set on the cluster: with fewer than three zones AWS returns three and
# every plan would replace the cluster; the instances carry the placement.

resource "aws_db_subnet_group" "this" {
  name       = {{ m.names.db_subnet_group | hcl }}
  subnet_ids = aws_subnet.private[*].id

  tags = local.tags
}

# Sends DDL statements and queries slower than one second to the postgresql
# log group. Logging every statement ("all") would copy query values, which
# can include personal data, into CloudWatch.
resource "aws_rds_cluster_parameter_group" "this" {
  name        = {{ m.parameter_group.name | hcl }}
  family      = {{ m.parameter_group.family | hcl }}
  description = {{ ("Query logging of " ~ m.names.aurora_cluster) | hcl }}

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_rds_cluster" "this" {
  cluster_identifier                  = {{ m.names.aurora_cluster | hcl }}
  engine                              = "aurora-postgresql"
  engine_version                      = {{ m.database.engine_version | hcl }}
  database_name                       = {{ m.database.name | hcl }}
  master_username                     = "app_admin"
  master_password                     = var.db_master_password
  port                                = 5432
  db_subnet_group_name                = aws_db_subnet_group.this.name
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.this.name
  vpc_security_group_ids              = [aws_security_group.db.id]
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.this.arn
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  backup_retention_period             = {{ m.profile.backup_retention_days }}
  preferred_backup_window             = "03:00-04:00"
  copy_tags_to_snapshot               = true
  deletion_protection                 = {{ m.profile.deletion_protection | hcl }}
  skip_final_snapshot                 = {{ (not m.profile.final_snapshot) | hcl }}
{%- if m.profile.final_snapshot %}
  final_snapshot_identifier           = {{ m.names.final_snapshot | hcl }}
{%- endif %}

  tags = local.tags
{% if m.profile.prevent_destroy %}
  # protection.prevent_destroy is on, so Terraform rejects any plan that
  # destroys or replaces the cluster and the data in it.
  lifecycle {
    prevent_destroy = true
  }
{% endif %}
  depends_on = [aws_cloudwatch_log_group.postgresql]
}

resource "aws_rds_cluster_instance" "this" {
  count = {{ m.database.instances }}

  identifier                 = "{{ m.names.aurora_cluster }}-${count.index + 1}"
  cluster_identifier         = aws_rds_cluster.this.id
  instance_class             = {{ m.database.instance_class | hcl }}
  engine                     = aws_rds_cluster.this.engine
  engine_version             = aws_rds_cluster.this.engine_version
  availability_zone          = local.azs[count.index % length(local.azs)]
  db_subnet_group_name       = aws_db_subnet_group.this.name
  publicly_accessible        = false
  auto_minor_version_upgrade = true

  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.this.arn

  tags = local.tags

  depends_on = [aws_iam_role_policy_attachment.rds_monitoring]
}
