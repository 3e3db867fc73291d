# Security groups without inline rules, so they can refer to each other
# without a dependency cycle. Each allowed flow is one rule:
# clients -> load balancer listener, load balancer -> tasks on the container
# port, tasks -> database on 5432, tasks -> HTTPS for images, logs and SSM.

resource "aws_security_group" "alb" {
  name        = "payment-service-test-alb"
  description = "Load balancer: listener traffic in, container port out to the tasks"
  vpc_id      = aws_vpc.this.id

  tags = merge(local.tags, { Name = "payment-service-test-alb" })
}

resource "aws_security_group" "tasks" {
  name        = "payment-service-test-tasks"
  description = "ECS tasks: container port in from the load balancer"
  vpc_id      = aws_vpc.this.id

  tags = merge(local.tags, { Name = "payment-service-test-tasks" })
}

resource "aws_security_group" "db" {
  name        = "payment-service-test-db"
  description = "Aurora PostgreSQL: port 5432 in from the tasks only"
  vpc_id      = aws_vpc.this.id

  tags = merge(local.tags, { Name = "payment-service-test-db" })
}

resource "aws_security_group_rule" "alb_ingress_80" {
  type              = "ingress"
  description       = "Clients to the listener on port 80"
  security_group_id = aws_security_group.alb.id
  protocol          = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "alb_egress_tasks" {
  type                     = "egress"
  description              = "Load balancer to the tasks on the container port"
  security_group_id        = aws_security_group.alb.id
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
  source_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group_rule" "tasks_ingress_alb" {
  type                     = "ingress"
  description              = "Load balancer to the tasks on the container port"
  security_group_id        = aws_security_group.tasks.id
  protocol                 = "tcp"
  from_port                = 8080
  to_port                  = 8080
  source_security_group_id = aws_security_group.alb.id
}

resource "aws_security_group_rule" "tasks_egress_db" {
  type                     = "egress"
  description              = "Tasks to Aurora PostgreSQL"
  security_group_id        = aws_security_group.tasks.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.db.id
}

resource "aws_security_group_rule" "tasks_egress_https" {
  type              = "egress"
  description       = "Tasks to HTTPS endpoints: image registry, CloudWatch Logs, SSM and KMS"
  security_group_id = aws_security_group.tasks.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "db_ingress_tasks" {
  type                     = "ingress"
  description              = "Tasks to Aurora PostgreSQL"
  security_group_id        = aws_security_group.db.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  source_security_group_id = aws_security_group.tasks.id
}
