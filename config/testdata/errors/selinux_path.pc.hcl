# selinux and path blocks with wrong values.
host "web" {
  address = "10.0.0.5"
}

endpoint "a" {
  host = host.web
  port = 9090
  expect {
    selinux {
      type   = "http port" # ERROR: Invalid SELinux type
      domain = "httpd"     # WARNING: Unusual SELinux type
      mode   = "strict"    # ERROR: Invalid SELinux mode
    }
    path {
      max_hops = 0            # ERROR: Value out of range
      via      = ["10.0.0.x"] # ERROR: Invalid IP address
      mode     = "sctp"       # ERROR: Invalid path mode
    }
  }
}
