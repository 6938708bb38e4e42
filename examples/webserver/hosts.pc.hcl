# A realistic web tier: nginx in front of an app, checked from a client
# network namespace and from the machine portcheck runs on. The hosts are
# network namespaces (ip netns add web; ip netns add client); on real
# machines use `local = true` on the host you run portcheck on.

variable "web_ip" {
  type    = string
  default = "10.20.0.5"
}

locals {
  subnet    = "10.20.0.0/24"
  client_ip = cidrhost(local.subnet, 9)
}

host "web" {
  address = var.web_ip
  netns   = "web"
}

host "client" {
  address = local.client_ip
  netns   = "client"
}
