{% set m = cookiecutter | tfscaffold_model -%}
# ECS Fargate cluster and the blue and green services, each with its own task
# definition so the two colours can run different images.

resource "aws_ecs_cluster" "this" {
  name = {{ m.names.cluster | hcl }}

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags

  # Destroy deletes the cluster before its Container Insights log group, so no
  # late write recreates the group after it is gone.
  depends_on = [aws_cloudwatch_log_group.container_insights]
}

locals {
  container_environment = [
    { name = "DB_HOST", value = aws_rds_cluster.this.endpoint },
    { name = "DB_PORT", value = tostring(aws_rds_cluster.this.port) },
    { name = "DB_NAME", value = aws_rds_cluster.this.database_name },
    { name = "DB_USER", value = aws_rds_cluster.this.master_username },
  ]

  container_secrets = concat(
    [for name, secret in local.secrets : { name = secret.variable, valueFrom = aws_ssm_parameter.secret[name].arn }],
    [{ name = "DB_PASSWORD", valueFrom = aws_ssm_parameter.db_master_password.arn }],
  )
}
{% for colour in ["blue", "green"] %}
resource "aws_ecs_task_definition" "{{ colour }}" {
  family                   = {{ m.names["task_family_" ~ colour] | hcl }}
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = {{ m.container.cpu }}
  memory                   = {{ m.container.memory }}
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  container_definitions = jsonencode([
    {
      name                   = "app"
      image                  = var.{{ colour }}_image
      essential              = true
      readonlyRootFilesystem = true
      portMappings           = [{ containerPort = {{ m.container.port }}, protocol = "tcp" }]
      environment            = concat(local.container_environment, [{ name = "DEPLOYMENT_COLOUR", value = "{{ colour }}" }])
      secrets                = local.container_secrets

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "{{ colour }}"
        }
      }
    }
  ])

  tags = local.tags
}

resource "aws_ecs_service" "{{ colour }}" {
  name                               = {{ m.names["service_" ~ colour] | hcl }}
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.{{ colour }}.arn
  desired_count                      = {{ m.container.desired_count }}
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.{{ colour }}.arn
    container_name   = "app"
    container_port   = {{ m.container.port }}
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = local.tags

  # Autoscaling owns the task count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.{{ "https" if m.https else "http" }}, aws_iam_role_policy.execution]
}
{% endfor -%}
