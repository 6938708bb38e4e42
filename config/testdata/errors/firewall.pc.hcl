# firewall blocks with wrong values.
host "web" {
  address = "10.0.0.5"
}

endpoint "a" {
  host = host.web
  port = 80
  expect {
    firewall {
      allow_from = ["10.0.0.0/33"] # ERROR: Invalid CIDR
      deny_from  = ["10.1.2.3/8"]  # ERROR: Invalid CIDR
      backend    = "pf"            # ERROR: Invalid firewall backend
    }
  }
}

endpoint "b" {
  host = host.web
  port = 81
  expect {
    firewall {
      allow_from = ["10.0.0.0/8", "192.0.2.1"]
      deny_from  = ["192.0.2.1/32"] # ERROR: Contradictory firewall sources
      permanent  = "yes please"     # ERROR: Incorrect attribute value type
    }
  }
}

endpoint "c" {
  host = host.web
  port = 82
  expect {
    firewall {
      allow_from = ["10.0.0.0/8", "10.0.0.0/8"] # ERROR: Duplicate CIDR
      zone       = "public"                     # ERROR: Unsupported argument
    }
  }
}
