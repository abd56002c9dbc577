terraform {
  required_providers {
    docker = {
      source = "kreuzwerker/docker"
    }
  }
}

variable "replicas" {
  type        = number
  description = "Replicas."
  default     = 1
  validation {
    condition     = length(var.replicas) > 0
    error_message = "replicas must be set."
  }
}

resource "docker_network" "n" {
  name = "n"
}
