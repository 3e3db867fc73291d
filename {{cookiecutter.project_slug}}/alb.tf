{% set m = cookiecutter | tfscaffold_model -%}
# Application load balancer with one target group per colour. The listener{% if m.https %} in https.tf{% endif %}
# forwards to both groups with var.blue_weight and var.green_weight, so traffic
# moves between colours by changing two numbers.

resource "aws_lb" "this" {
  name                       = {{ m.names.alb | hcl }}
  internal                   = {{ m.load_balancer.internal | hcl }}
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = aws_subnet.{{ "private" if m.load_balancer.internal else "public" }}[*].id
  drop_invalid_header_fields = true
  enable_deletion_protection = {{ m.profile.deletion_protection | hcl }}

  tags = local.tags
}
{% for colour in ["blue", "green"] %}
resource "aws_lb_target_group" "{{ colour }}" {
  name                 = {{ m.names["target_group_" ~ colour] | hcl }}
  port                 = {{ m.container.port }}
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.this.id
  deregistration_delay = 30

  health_check {
    path                = {{ m.container.health_check_path | hcl }}
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
{% endfor %}
{%- if not m.https %}
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
{% endif -%}
