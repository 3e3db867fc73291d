# Values other stacks and deploy pipelines need.

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service name of each colour."
  value       = { blue = aws_ecs_service.blue.name, green = aws_ecs_service.green.name }
}

output "target_group_arns" {
  description = "Target group ARN of each colour."
  value       = { blue = aws_lb_target_group.blue.arn, green = aws_lb_target_group.green.arn }
}

output "db_endpoint" {
  description = "Writer endpoint of the Aurora cluster."
  value       = aws_rds_cluster.this.endpoint
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.app.name
}

output "parameter_names" {
  description = "SSM parameter of each secret; set the real values with aws ssm put-parameter --overwrite."
  value       = { for name, parameter in aws_ssm_parameter.secret : name => parameter.name }
}
