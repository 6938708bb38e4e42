# The public web server: HTTPS with a certificate that must stay valid for
# two more weeks, plain HTTP that redirects, and no admin ports open.

endpoint "https" {
  host = host.web
  port = 443
  from = [host.client]

  expect {
    listening {
      process = "nginx"
    }
    tls {
      server_name    = "www.example.com"
      min_days_valid = 14
      min_version    = "1.2"
    }
    http {
      scheme      = "https"
      path        = "/healthz"
      server_name = "www.example.com"
      host_header = "www.example.com"
      status      = [200]
      body        = "ok"
    }
  }
}

endpoint "http_redirect" {
  host = host.web
  port = 80
  from = [host.client]

  expect {
    http {
      path   = "/"
      status = [301, 308]
    }
  }
}

# Databases and caches must never be reachable from clients.
endpoint "postgres_closed" {
  host  = host.web
  port  = 5432
  state = "closed"
  from  = [host.client]
}

endpoint "redis_closed" {
  host  = host.web
  port  = 6379
  state = "closed"
  from  = [host.client]
}
