variable "web_port" {
  type    = number
  default = 8080
}

host "web" {
  address = "10.20.0.5"
  netns   = "pc-web"
}

host "client" {
  address = "10.20.0.9"
  netns   = "pc-client"
}

host "self" {
  address = "127.0.0.1"
}

host "db" {
  address = "192.0.2.40"
}

endpoint "web" {
  host = host.web
  port = var.web_port
  from = [host.client, host.self]

  expect {
    listening {
      process = "nginx"
    }
    firewall {
      allow_from = ["10.20.0.0/24"]
    }
    http {
      path   = "/healthz"
      status = [200, 204]
    }
  }
}

endpoint "web_tls" {
  host = host.web
  port = 8443
  from = [host.client]

  expect {
    tls {
      server_name = "web.example"
    }
    selinux {
      type = "http_port_t"
    }
  }
}

endpoint "redis" {
  host  = host.web
  port  = 6379
  state = "closed"
  from  = [host.client]
}

endpoint "db" {
  host = host.db
  port = 5432
}

endpoint "dns" {
  host     = host.self
  port     = 53
  protocol = "udp"

  expect {
    http {}
  }
}

endpoint "range" {
  host = host.self
  port = "9000-9001"
}
