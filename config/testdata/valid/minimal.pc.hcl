host "web" {
  address = "10.0.0.5"
}

endpoint "web" {
  host = host.web
  port = 8080
}
