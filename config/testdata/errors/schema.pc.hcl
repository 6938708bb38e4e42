# Unknown and missing attributes and blocks, at every level.
colour = "blue" # ERROR: Unsupported argument

service "web" { # ERROR: Unsupported block type
}

host { # ERROR: Missing name for host
  address = "10.0.0.5"
}

host "web" {
  address = "10.0.0.5"
  adress  = "10.0.0.6" # ERROR: Unsupported argument
  ssh {                # ERROR: Unsupported block type
  }
}

host "db" "extra" { # ERROR: Extraneous label for host
  address = "10.0.0.7"
}

endpoint "no_port" { # ERROR: Missing required argument
  host = host.web
}

endpoint "no_host" { # ERROR: Missing required argument
  port = 80
}

endpoint "web" {
  host    = host.web
  port    = 80
  timeuot = "1s" # ERROR: Unsupported argument

  expect {
    http {
      paht = "/" # ERROR: Unsupported argument
    }
    ssh {} # ERROR: Unsupported block type
    tls "x" { # ERROR: Extraneous label for tls
    }
  }

  check { # ERROR: Unsupported block type
  }
}
