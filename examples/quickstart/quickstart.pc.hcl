# portcheck quickstart: the machine you run portcheck on, checked from itself.
# On a fresh machine "ssh" and "web" fail (nothing listens) and are diagnosed
# at L1; "telnet" passes because port 23 must be closed and is.

variable "web_port" {
  type        = number
  default     = 8080
  description = "port the demo web app listens on"
}

host "this" {
  address = "127.0.0.1"
}

# Remote administration: sshd must greet with an SSH banner.
endpoint "ssh" {
  host = host.this
  port = 22

  expect {
    banner {
      match = "^SSH-2\\.0-"
    }
  }
}

# A web app with a health endpoint.
endpoint "web" {
  host = host.this
  port = var.web_port

  expect {
    http {
      path   = "/healthz"
      status = [200]
    }
  }
}

# Telnet must never be reachable.
endpoint "telnet" {
  host  = host.this
  port  = 23
  state = "closed"
}
