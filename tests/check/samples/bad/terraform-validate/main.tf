variable "name" {
  type        = string
  description = "Name."
}

output "greeting" {
  description = "A greeting."
  value       = "hello ${var.nmae}"
}
