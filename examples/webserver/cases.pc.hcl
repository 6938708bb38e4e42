# The seed's three case studies, written as declarations.

# Case 1: the app listens on 0.0.0.0:8080, but the host firewall drops the
# port (it was opened with firewall-cmd without --permanent and vanished at
# the next reload). L1 passes; L2 names firewalld's rejecting rule and says
# `firewall-cmd --permanent --zone=… --add-port=8080/tcp`. Before the reload
# the same declaration reports drift: open now, gone at the next reload.
endpoint "case1_app_firewalled" {
  host = host.web
  port = 8080
  from = [host.client]

  expect {
    listening {
      addresses = ["0.0.0.0"]
    }
    firewall {
      allow_from = [local.subnet]
      backend    = "firewalld"
      permanent  = true
    }
    http {
      path = "/healthz"
    }
  }
}

# Case 2: nginx moved to 9090 fails to start with "Permission denied":
# SELinux is enforcing and 9090 is not an http_port_t port (Debian's policy
# labels it websm_port_t). L1 reports not_listening and L3 says why, with
# the fix `semanage port -m -t http_port_t -p tcp 9090` (-m: it has a type).
endpoint "case2_nginx_9090" {
  host = host.web
  port = 9090
  from = [host.client]

  expect {
    listening {
      process = "nginx"
    }
    selinux {
      type   = "http_port_t"
      domain = "httpd_t"
      mode   = "enforcing"
    }
  }
}

# Case 3: a container publishes 8081 -> 80. Its own network namespace is
# checked through the container's process (docker inspect -f '{{.State.Pid}}'),
# the published port from the client. Docker DNATs the port in nat
# PREROUTING, so L2 judges it in FORWARD (DOCKER-USER first), not INPUT.
variable "container_pid" {
  type    = number
  default = 1
}

host "container" {
  address = "172.17.0.2"
  netns   = "/proc/${var.container_pid}/ns/net"
}

endpoint "case3_container_inside" {
  host = host.container
  port = 80
  from = [host.web]

  expect {
    listening {}
  }
}

endpoint "case3_published" {
  host = host.web
  port = 8081
  from = [host.client]

  expect {
    firewall {
      backend = "iptables"
    }
    http {
      path = "/"
    }
  }
}
