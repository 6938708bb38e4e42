host "web" {
  address = "10.0.0.5"
}

endpoint "zero" {
  host = host.web
  port = 0 # ERROR: Invalid port
}

endpoint "too_big" {
  host = host.web
  port = 70000 # ERROR: Invalid port
}

endpoint "fraction" {
  host = host.web
  port = 80.5 # ERROR: Invalid port
}

endpoint "word" {
  host = host.web
  port = "http" # ERROR: Invalid port
}

endpoint "backwards" {
  host = host.web
  port = "8010-8000" # ERROR: Invalid port range
}

endpoint "wide" {
  host = host.web
  port = "1-2000" # ERROR: Invalid port range
}

endpoint "half" {
  host = host.web
  port = "8000-" # ERROR: Invalid port range
}

endpoint "out_of_range" {
  host = host.web
  port = "65000-65536" # ERROR: Invalid port range
}

endpoint "null" {
  host = host.web
  port = null # ERROR: Invalid port
}
