module "naming" {
  source      = "./modules/naming"
  environment = var.environment
}

resource "docker_network" "private" {
  name     = "${module.naming.prefix}-private"
  internal = true
}
