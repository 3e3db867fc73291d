{% set m = cookiecutter | tfscaffold_model -%}
{#- Rendered only when the spec sets load_balancer.certificate_arn; an empty
    render is left out of the project. -#}
{%- if m.https -%}
# HTTPS listener with the ACM certificate, forwarding to both colours with
# var.blue_weight and var.green_weight, and an HTTP listener that redirects
# every request to it.

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS-1-2-2017-01"
  certificate_arn   = {{ m.load_balancer.certificate_arn | hcl }}

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
