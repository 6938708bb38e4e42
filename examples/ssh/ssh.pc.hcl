# Two servers reached over SSH: their sockets, packet filter and SELinux
# (L1-L3) are collected there by portcheck-collector, the probes (L4, L7)
# run from this machine. db is reached only through the bastion.

host "bastion" {
  address = "192.0.2.10"
  connection {
    user        = "ops"
    private_key = "~/.ssh/id_ed25519"
  }
}

host "web" {
  address = "192.0.2.20"
  connection {
    user    = "ops"
    sudo    = true # the collector runs with sudo -n: allow it NOPASSWD
    timeout = "5s"
  }
}

host "db" {
  address = "10.0.1.30"
  connection {
    bastion = host.bastion
    sudo    = true
  }
}

endpoint "https" {
  host = host.web
  port = 443
  expect {
    tls {
      server_name = "www.example.com"
    }
  }
}

endpoint "postgres" {
  host = host.db
  port = 5432
  expect {
    firewall {
      allow_from = ["10.0.1.0/24"]
    }
  }
}
