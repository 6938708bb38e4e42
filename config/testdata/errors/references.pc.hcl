# References to things that are not declared, or not allowed where used.
variable "port" {
  type    = number
  default = 80
}

locals {
  ip      = "10.0.0.5"
  typo    = local.ipp # ERROR: Reference to undeclared local value
  too_early = host.web.address # ERROR: Invalid reference
  # Depends on a broken local: no second error.
  derived = "${local.typo}/24"
}

host "web" {
  address = local.ip
}

host "other" {
  address = host.web.address # ERROR: Invalid reference
}

endpoint "web" {
  host = host.web
  port = var.prot # ERROR: Reference to undeclared input variable
  from = [host.client, host.web] # ERROR: Reference to undeclared host
}

endpoint "db" {
  host = host.db # ERROR: Reference to undeclared host
  port = var.port
}

endpoint "string_host" {
  host = "web" # ERROR: Invalid host reference
  port = 80
}

endpoint "computed_host" {
  host = host.web.name # ERROR: Invalid host reference
  port = 80
}

endpoint "unknown_root" {
  host = host.web
  port = vars.port # ERROR: Invalid reference
}
