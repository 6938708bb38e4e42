# selinux.json is web.json (collected from a lab) with SELinux switched on
# and enforcing, as a RHEL machine reports it; the store's port types and
# httpd_t's name_bind rules are Debian's real policy's.
host "selinux-web" {
  address = "10.102.68.2"
}

host "client" {
  address = "10.102.68.1"
}

endpoint "nginx_9090" {
  host = host.selinux-web
  from = [host.client]
  port = 9090

  expect {
    selinux {
      type   = "http_port_t"
      domain = "httpd_t"
    }
  }
}

endpoint "nginx_8080" {
  host = host.selinux-web
  from = [host.client]
  port = 8080

  expect {
    selinux {
      type   = "http_cache_port_t"
      domain = "httpd_t"
    }
  }
}

endpoint "named_8080" {
  host = host.selinux-web
  from = [host.client]
  port = 8080

  expect {
    selinux {
      type   = "http_cache_port_t"
      domain = "named_t"
    }
  }
}
