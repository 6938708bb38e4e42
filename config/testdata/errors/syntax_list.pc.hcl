host "web" {
  address = "10.0.0.5"
}

endpoint "web" {
  host = host.web
  port = 80
  from = [host.web host.web] # ERROR: Missing item separator
}
