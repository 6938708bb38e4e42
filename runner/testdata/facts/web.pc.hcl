# Judged from web.json (collected from a lab by TestGoldenFacts -make-facts).
host "web" {
  address = "10.102.68.2"
}

host "client" {
  address = "10.102.68.1"
}

endpoint "app" {
  host = host.web
  port = 8080
  from = [host.client]
}

endpoint "admin" {
  host = host.web
  port = 9090
  from = [host.client]
}

endpoint "cache" {
  host = host.web
  port = 6379
  from = [host.client]
}

endpoint "published" {
  host = host.web
  port = 8081
  from = [host.client]
}

endpoint "elsewhere" {
  host = host.web
  port = 8082
  from = [host.client]
}

endpoint "bind" {
  host = host.web
  port = 9090
  from = [host.client]

  expect {
    selinux {
      type   = "http_port_t"
      domain = "httpd_t"
    }
  }
}
