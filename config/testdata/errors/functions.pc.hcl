locals {
  bad_cidr    = cidrhost("10.0.0.0/33", 1) # ERROR: Invalid function argument
  host_range  = cidrhost("10.0.0.0/30", 4) # ERROR: Invalid function argument
  too_deep    = cidrsubnet("10.0.0.0/24", 9, 0) # ERROR: Invalid function argument
  netnum      = cidrsubnet("10.0.0.0/24", 2, 4) # ERROR: Invalid function argument
  v6_mask     = cidrnetmask("fd00::/64") # ERROR: Invalid function argument
  no_room     = cidrsubnets("10.0.0.0/30", 1, 1, 1) # ERROR: Invalid function argument
  no_function = cidrsplit("10.0.0.0/8") # ERROR: Call to unknown function
  wrong_arity = upper("a", "b") # ERROR: Too many function arguments
}

host "web" {
  # Depends on a broken local: no second error.
  address = local.bad_cidr
}

endpoint "web" {
  host    = host.web
  port    = 80
  address = "10.0.0.1"
}
