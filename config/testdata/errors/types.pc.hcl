# Values of the wrong type.
variable "names" {
  type    = list(string)
  default = "web" # ERROR: Invalid default value for variable
}

variable "bad_type" {
  type = strin # ERROR: Invalid type specification
}

host "web" {
  address = ["10.0.0.5"] # ERROR: Incorrect attribute value type
  local   = "yes" # ERROR: Incorrect attribute value type
}

host "db" {
  addresses = "10.0.0.6" # ERROR: Incorrect attribute value type
}

endpoint "web" {
  host     = host.web
  port     = true # ERROR: Incorrect attribute value type
  protocol = ["tcp"] # ERROR: Incorrect attribute value type
  retries  = "many" # ERROR: Incorrect attribute value type
  timeout  = 2 # ERROR: Invalid duration

  expect {
    http {
      status   = "ok" # ERROR: Incorrect attribute value type
      headers  = "X-Probe: 1" # ERROR: Incorrect attribute value type
      insecure = "no" # ERROR: Incorrect attribute value type
    }
  }
}

endpoint "db" {
  host = host.db
  port = 5432
  from = host.web # ERROR: Invalid host reference
}
