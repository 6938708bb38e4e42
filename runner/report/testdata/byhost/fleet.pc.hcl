host "web1" {
  address = "10.0.0.11"
  connection {
    private_key = "/nonexistent/key"
  }
}

host "web2" {
  address = "10.0.0.12"
  connection {
    private_key = "/nonexistent/key"
  }
}

host "db" {
  address = "10.0.0.21"
  connection {
    private_key = "/nonexistent/key"
  }
}

endpoint "web1_https" {
  host = host.web1
  port = 443
}

endpoint "web2_https" {
  host = host.web2
  port = 443
}

endpoint "web2_http" {
  host = host.web2
  port = 80
}

endpoint "db_postgres" {
  host = host.db
  port = 5432
}
