# Application load balancer with one target group per colour. The listener
# forwards to both groups with var.blue_weight and var.green_weight, so traffic
# moves between colours by changing two numbers.

resource "aws_lb" "this" {
  name                       = "payment-service-test"
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = aws_subnet.public[*].id
  drop_invalid_header_fields = true
  enable_deletion_protection = false

  tags = local.tags
}

resource "aws_lb_target_group" "blue" {
  name                 = "payment-service-test-blue-ba34"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.this.id
  deregistration_delay = 30

  health_check {
    path                = "/health"
    matcher             = "200-399"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags

  # The name carries a digest of port and protocol, so a replacement gets a
  # new name and can be created while the listener still uses the old group.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_target_group" "green" {
  name                 = "payment-service-test-green-ba34"
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.this.id
  deregistration_delay = 30

  health_check {
    path                = "/health"
    matcher             = "200-399"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags

  # The name carries a digest of port and protocol, so a replacement gets a
  # new name and can be created while the listener still uses the old group.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "forward"

    forward {
      target_group {
        arn    = aws_lb_target_group.blue.arn
        weight = var.blue_weight
      }

      target_group {
        arn    = aws_lb_target_group.green.arn
        weight = var.green_weight
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.blue_weight + var.green_weight == 100
      error_message = "The blue_weight and green_weight values must sum to 100."
    }
  }
}
