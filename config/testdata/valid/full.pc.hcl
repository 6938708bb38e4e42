# Every part of the language; full.pc.json says the same in JSON syntax.

variable "web_port" {
  type        = number
  default     = 8080
  description = "port the web server listens on"
}

variable "subnet" {
  type    = string
  default = "10.0.0.0/24"
}

variable "probe_headers" {
  type    = map(string)
  default = { "X-Probe" = "portcheck" }
}

locals {
  # Refers to a local declared further down: order does not matter.
  server_ip = cidrhost(local.subnet, 5)
}

locals {
  subnet    = var.subnet
  client_ip = cidrhost(local.subnet, 10)
  ns_name   = lower("SRV")
}

host "web" {
  addresses = [local.server_ip, "fd00::5"]
  netns     = local.ns_name
}

host "client" {
  address = local.client_ip
  local   = true
}

host "box" {
  address = "192.0.2.1"
  netns   = "/proc/1234/ns/net"
}

endpoint "web" {
  host     = host.web
  port     = var.web_port
  protocol = "tcp"
  address  = host.web.addresses[1]
  from     = [host.client, host.box]
  state    = "open"
  timeout  = "3s"
  retries  = 2

  expect {
    listening {
      process   = "nginx"
      addresses = ["0.0.0.0", "::"]
    }
    connectivity {
      timeout = "1s"
      retries = 0
    }
    http {
      scheme      = "https"
      method      = "HEAD"
      path        = "/healthz"
      host_header = "web.example"
      headers     = var.probe_headers
      status      = [200, 204]
      body        = "ok|healthy"
      response_headers = {
        "Content-Type" = "^text/html"
      }
      server_name = format("%s.example", host.web.name)
      ca_file     = "certs/ca.pem"
      insecure    = false
    }
  }

  expect {
    tls {
      server_name    = "web.example"
      ca_file        = "/etc/ssl/ca.pem"
      min_days_valid = 30
      min_version    = "1.2"
    }
    firewall {
      allow_from = ["10.0.0.0/8", "192.0.2.7"]
      deny_from  = ["0.0.0.0/0"]
      backend    = "nftables"
    }
    selinux {}
  }
}

endpoint "dns" {
  host     = host.web
  port     = "5300-5310"
  protocol = "udp"
  state    = "closed"

  expect {
    connectivity {
      payload = "ping\n"
    }
    path {}
    cloud {
      provider = provider.aws
      target   = "i-0123456789abcdef0"
    }
  }
}

endpoint "grpc" {
  host = host.box
  port = "9090"

  expect {
    grpc {
      service     = "my.Service"
      tls         = true
      server_name = "grpc.example"
      ca_file     = "ca.pem"
    }
  }
}

endpoint "redis" {
  host = host.client
  port = 6379

  expect {
    banner {
      send  = "PING\r\n"
      match = "^\\+PONG"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

security_group "web" {
  provider = provider.aws
  id       = "sg-0123456789abcdef0"

  ingress {
    protocol    = "tcp"
    ports       = 443
    cidr_blocks = ["0.0.0.0/0", "::/0"]
    description = "https"
  }
  egress {
    protocol    = "all"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
