variable "environment" {
  type        = string
  description = "Deployment environment."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "replicas" {
  type        = number
  description = "Replicas per service."
  default     = 1
  validation {
    condition     = var.replicas >= 1
    error_message = "replicas must be at least 1."
  }
}

variable "registry_token" {
  type        = string
  description = "Registry token, from TF_VAR_registry_token."
  sensitive   = true
}
