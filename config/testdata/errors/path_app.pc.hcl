# path and L7 blocks with wrong values for the attributes issue 11 added.
host "web" {
  address = "10.0.0.5"
}

endpoint "a" {
  host = host.web
  port = 443
  expect {
    path {
      rounds       = 0      # ERROR: Value out of range
      max_loss     = 101    # ERROR: Value out of range
      max_hop_loss = "much" # ERROR: Incorrect attribute value type
      timeout      = "0s"   # ERROR: Invalid timeout
    }
    tls {
      client_cert = "client.pem" # ERROR: Missing client_key
      timeout     = "soon"       # ERROR: Invalid duration
    }
    http {
      client_key = "client.key" # ERROR: Missing client_cert
    }
  }
}

endpoint "b" {
  host = host.web
  port = 5432
  expect {
    banner {
      send     = "PING"
      send_hex = "00 00 00 08" # ERROR: Conflicting attributes
    }
  }
}

endpoint "c" {
  host = host.web
  port = 5433
  expect {
    banner {
      send_hex = "0g" # ERROR: Invalid hex bytes
    }
    grpc { # WARNING: TLS settings without tls = true
      ca_file = "ca.pem"
    }
  }
}
