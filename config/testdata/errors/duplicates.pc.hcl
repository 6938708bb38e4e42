variable "port" {
  default = 80
}

variable "port" { # ERROR: Duplicate variable
  default = 81
}

locals {
  ip = "10.0.0.5"
}

locals {
  ip = "10.0.0.6" # ERROR: Duplicate local value
}

host "web" {
  address = local.ip
}

host "web" { # ERROR: Duplicate host
  address = "10.0.0.7"
}

endpoint "web" {
  host = host.web
  port = 80
  from = [host.web, host.web] # ERROR: Duplicate vantage host

  expect {
    http {}
  }
  expect {
    http {} # ERROR: Duplicate http block
  }
}

endpoint "web" { # ERROR: Duplicate endpoint
  host = host.web
  port = 81
}

host "multi" {
  addresses = ["10.0.0.8", "10.0.0.8"] # ERROR: Duplicate address
}
