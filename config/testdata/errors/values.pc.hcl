# Values of the right type that are still wrong.
host "web" {
  addresses = ["10.0.0.5", "fd00::5"]
}

host "bad_ip" {
  address = "10.0.0.300" # ERROR: Invalid IP address
}

host "bad_list" {
  addresses = ["10.0.0.9", "fd00::zz"] # ERROR: Invalid IP address
}

host "both" {
  address   = "10.0.0.1"
  addresses = ["10.0.0.2"] # ERROR: Conflicting attributes
}

host "none" { # ERROR: Missing host address
  netns = "srv"
}

host "empty" {
  addresses = [] # ERROR: Missing host address
}

host "ns_not_local" {
  address = "10.0.0.3"
  netns   = "srv"
  local   = false # ERROR: Conflicting attributes
}

host "relative_ns" {
  address = "10.0.0.4"
  netns   = "run/netns/srv" # ERROR: Invalid netns
}

endpoint "web" {
  host     = host.web
  port     = 80
  protocol = "sctp" # ERROR: Invalid protocol
  state    = "filtered" # ERROR: Invalid state
  address  = "10.0.0.6" # ERROR: Address not on host
  timeout  = "2 seconds" # ERROR: Invalid duration
  retries  = 11 # ERROR: Value out of range

  expect {
    listening {
      process   = "" # ERROR: Invalid process name
      addresses = ["0.0.0.0", "any"] # ERROR: Invalid IP address
    }
    connectivity {
      timeout = "10m" # ERROR: Invalid timeout
      retries = 1.5 # ERROR: Invalid number
    }
    http {
      scheme           = "ftp" # ERROR: Invalid scheme
      method           = "GET /" # ERROR: Invalid HTTP method
      path             = "healthz" # ERROR: Invalid HTTP path
      status           = [200, 999] # ERROR: Invalid HTTP status
      body             = "ok|(" # ERROR: Invalid regular expression
      headers          = { "Bad Name" = "x" } # ERROR: Invalid header name
      response_headers = {
        "Content-Type" = "[" # ERROR: Invalid regular expression
      }
    }
    tls {
      min_version    = "1.4" # ERROR: Invalid TLS version
      min_days_valid = -1 # ERROR: Value out of range
    }
    banner {
      match = "*" # ERROR: Invalid regular expression
    }
  }
}

endpoint "zero_timeout" {
  host    = host.web
  port    = 81
  timeout = "0s" # ERROR: Invalid timeout
}

# A broken host gives one error; endpoints on it are not checked against it.
endpoint "on_bad_host" {
  host    = host.bad_ip
  port    = 80
  address = "10.0.0.1"
}

endpoint "long_process_name" {
  host = host.web
  port = 82

  expect {
    listening {
      process = "a-very-long-process-name" # WARNING: Process name too long
    }
  }
}
