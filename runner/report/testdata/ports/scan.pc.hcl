host "web" {
  address = "10.20.0.5"
  netns   = "web"
}

host "client" {
  address = "10.20.0.9"
  netns   = "client"
}

# 20 ports: grouped in the text report.
endpoint "scan" {
  host = host.web
  port = [22, "20000-20018"]
  from = [host.client]
}

# 3 ports: one line per check, as before.
endpoint "few" {
  host = host.web
  port = [80, 443, 8443]
  from = [host.client]
}
