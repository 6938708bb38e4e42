# `portcheck plan -phase pre examples/change` before the window prints the
# runbook; `portcheck verify -phase post examples/change` is the gate after
# it, and `portcheck change report -phase post examples/change` writes the
# change record for the ticket.
change "nginx_to_9090" {
  endpoint     = endpoint.nginx
  from_port    = 8080
  to_port      = 9090
  window_start = "2026-12-03T22:00:00Z"
  ticket       = "CHG-2041"
  description  = "nginx moves from 8080 to 9090 (seed case 2)"

  app_config {
    # process defaults to the endpoint's listening process (nginx)
    config_file  = "/etc/nginx/sites-enabled/default"
    config_match = "listen\\s+9090"
  }

  firewall {
    # sources default to the endpoint's firewall allow_from
  }

  # 9090 is websm_port_t in Debian's policy: nginx (httpd_t) cannot bind
  # it until `semanage port -m -t http_port_t -p tcp 9090`.
  selinux {
    type   = "http_port_t"
    domain = "httpd_t"
  }

  cloud {
    provider = provider.aws
    target   = "10.20.0.5"
    sources  = ["10.20.0.0/24"]
  }

  load_balancer {
    type    = "elbv2"
    region  = "eu-west-1"
    pools   = ["web-nginx"]
    targets = ["10.20.0.5"]
  }

  dns {
    resolver = "10.20.0.53"
    from     = host.client
    name     = "www.example.internal."
    srv      = "_http._tcp.example.internal."
  }

  monitoring {
    prometheus = "http://10.20.0.9:9091"
    from       = host.client
    jobs       = ["nginx"]
  }

  document {}

  rollback {
    backup_dir = "/var/backups/portcheck"
  }
}
