variable "environment" {
  type        = string
  description = "Deployment environment."
}

output "prefix" {
  description = "Name prefix for resources."
  value       = "web-${var.environment}"
}
