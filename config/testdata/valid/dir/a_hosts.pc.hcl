# Hosts here, endpoints in b_endpoints.pc.json: a directory is one configuration.
variable "port" {
  type    = number
  default = 443
}

host "lb" {
  address = "203.0.113.10"
}
