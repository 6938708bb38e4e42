# Every kind of check export knows, and the ones it must leave out.

host "web" {
  address = "10.0.0.5"
}

host "dual" {
  addresses = ["10.0.0.6", "2001:db8::6"]
}

host "client" {
  address = "10.0.0.9"
}

endpoint "ssh" {
  host = host.web
  port = 22

  expect {
    banner {
      match = "^SSH-2\\.0-"
    }
  }
}

endpoint "web" {
  host    = host.web
  port    = 8080
  timeout = "1s"

  expect {
    http {
      path   = "/healthz"
      status = [200, 204]
      body   = "ok"
      headers = {
        "X-Probe" = "portcheck"
      }
      response_headers = {
        "Content-Type" = "^text/"
      }
    }
  }
}

endpoint "plain_http" {
  host = host.dual
  port = 80

  expect {
    http {}
  }
}

endpoint "shop" {
  host = host.web
  port = 8443

  expect {
    http {
      scheme      = "https"
      server_name = "shop.example"
      ca_file     = "ca.pem"
    }
    tls {
      server_name    = "shop.example"
      min_days_valid = 30
      min_version    = "1.2"
    }
  }
}

endpoint "api" {
  host = host.web
  port = 443

  expect {
    tls {
      server_name = "api.example"
    }
  }
}

endpoint "cart" {
  host = host.web
  port = 9090

  expect {
    grpc {
      service     = "shop.Cart"
      tls         = true
      server_name = "grpc.example"
    }
  }
}

endpoint "redis" {
  host = host.web
  port = 6379

  expect {
    banner {
      send  = "PING\r\n"
      match = "^\\+PONG"
    }
  }
}

endpoint "postgres" {
  host = host.web
  port = 5432

  expect {
    banner {
      send_hex = "0000000804d2162f"
      match    = "^S"
    }
  }
}

endpoint "dns" {
  host     = host.web
  port     = 53
  protocol = "udp"
}

endpoint "syslog" {
  host     = host.web
  port     = 514
  protocol = "udp"
}

endpoint "telnet" {
  host  = host.web
  port  = 23
  state = "closed"
}

endpoint "workers" {
  host = host.web
  port = "8000-8002"
}

endpoint "ephemeral" {
  host = host.web
  port = "20000-20999"
}

endpoint "mail" {
  host = host.web
  port = [25, 587, "993-995"]
}

endpoint "scan" {
  host      = host.web
  port      = [22, "30000-31999"]
  max_ports = 2001
}

endpoint "internal" {
  host = host.web
  port = 9100
  from = [host.client]
}

endpoint "ping" {
  host = host.dual
  port = 22

  expect {
    path {
      mode = "icmp"
    }
  }
}

endpoint "admin" {
  host = host.web
  port = 8081

  expect {
    http {
      headers = {
        "Authorization" = "Bearer xyz"
      }
    }
  }
}
