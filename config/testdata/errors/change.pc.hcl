# change and attestation blocks with mistakes.
host "web" {
  address = "10.0.0.5"
}

host "client" {
  address = "10.0.0.9"
}

endpoint "web" {
  host = host.web
  port = 9090
}

endpoint "range" {
  host = host.web
  port = "9000-9001"
}

endpoint "list" {
  host = host.web
  port = [80, 443]
}

change "good" {
  endpoint     = endpoint.web
  from_port    = 8080
  to_port      = 9090
  window_start = "2026-12-03T22:00:00Z"
  ticket       = "CHG-1"

  app_config {
    process = "nginx"
  }
  firewall {
    sources = ["10.0.0.0/24"]
  }
  selinux {
    type = "http_port_t"
  }
  cloud {
    skip = "on premises"
  }
  load_balancer {
    attest = "the F5 is run by another team"
  }
  dns {
    resolver = "10.0.0.53"
    name     = "web.example."
  }
  monitoring {
    attest = "Grafana dashboards are checked by hand"
  }
  document {}
  rollback {
    backup_dir = "/var/backups/portcheck"
  }
}

change "broken" {
  endpoint     = endpoint.nope              # ERROR: Reference to undeclared endpoint
  from_port    = 70000                      # ERROR: Value out of range
  to_port      = 9090
  window_start = "yesterday"                # ERROR: Invalid timestamp

  app_config {                              # ERROR: Incomplete config file check
    config_file = "/etc/nginx/nginx.conf"
  }
  firewall {
    skip    = "no firewall"
    sources = ["10.0.0.0/24"]               # ERROR: Conflicting step arguments
  }
  selinux {                                 # ERROR: Missing SELinux port type
  }
  cloud {                                   # ERROR: Missing provider
  }
  load_balancer {
    type = "f5"                             # ERROR: Invalid load balancer type
  }
  dns {                                     # ERROR: Missing resolver # ERROR: Missing DNS name
  }
  monitoring {
    skip   = "no monitoring"
    attest = "no, yes"                      # ERROR: Conflicting step arguments
  }
  monitoring {                              # ERROR: Duplicate step
    skip = "twice"
  }
  document {
    skip = ""                               # ERROR: Invalid skip
  }
  rollback {
    skip = "lab"
  }
}

change "short" {                            # ERROR: Missing change steps
  endpoint     = endpoint.range             # ERROR: Invalid port change
  from_port    = 9000
  to_port      = 9000                       # ERROR: Invalid port change
  window_start = "2026-12-03T22:00:00Z"
  document {}
  lb {}                                     # ERROR: Unsupported block type
}

attestation "good" "document" {
  by = "alice"
  at = "2026-12-03T22:30:00Z"
}

attestation "good" "document" {             # ERROR: Duplicate attestation
  by = "bob"
  at = "2026-12-03T22:31:00Z"
}

attestation "good" "load_balancer" {
  by     = "carol"
  at     = "2026-12-03T22:32:00Z"
  ticket = "NET-9"
}

attestation "godo" "document" {             # ERROR: Attestation for an undeclared change
  by = "mallory"
  at = "2026-12-03T22:33:00Z"
}

attestation "good" "documnet" {             # ERROR: Attestation for an unknown step
  by = "mallory"
  at = "2026-12-03T22:34:00Z"
}

attestation "good" "firewall" {             # ERROR: Attestation for a verified step
  by = "mallory"
  at = "2026-12-03T22:35:00Z"
}

attestation "good" "cloud" {                # ERROR: Attestation for a skipped step
  by = "mallory"
  at = "2026-12-03T22:36:00Z"
}

attestation "good" "load_balancer" {        # ERROR: Duplicate attestation
  by = "dave"
  at = "22:37"
}

attestation "short" "document" {            # ERROR: Missing ticket
  by = "eve"
  at = "2026-12-03T22:38:00Z"
}

attestation "good" "monitoring" {           # ERROR: Incomplete attestation
  by = ""                                   # ERROR: Invalid attestation
}

change "of_a_list" {                        # ERROR: Missing change steps
  endpoint     = endpoint.list              # ERROR: Invalid port change
  from_port    = 80
  to_port      = 8080
  window_start = "2026-12-03T22:00:00Z"
  ticket       = "CHG-9"
  app_config {
    process = "nginx"
  }
}
