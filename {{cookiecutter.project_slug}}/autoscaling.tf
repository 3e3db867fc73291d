{% set m = cookiecutter | tfscaffold_model -%}
# Target-tracking autoscaling of each colour on average CPU utilisation.
{% for colour in ["blue", "green"] %}
resource "aws_appautoscaling_target" "{{ colour }}" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.{{ colour }}.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = {{ m.autoscaling.min_capacity }}
  max_capacity       = {{ m.autoscaling.max_capacity }}
}

resource "aws_appautoscaling_policy" "{{ colour }}_cpu" {
  name               = {{ (m.names["service_" ~ colour] ~ "-cpu") | hcl }}
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.{{ colour }}.service_namespace
  resource_id        = aws_appautoscaling_target.{{ colour }}.resource_id
  scalable_dimension = aws_appautoscaling_target.{{ colour }}.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = {{ m.autoscaling.cpu_target }}
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
{% endfor -%}
