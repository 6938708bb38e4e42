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
  port = "1-2000" # ERROR: Too many ports
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

endpoint "empty_list" {
  host = host.web
  port = [] # ERROR: Invalid port list
}

endpoint "duplicate" {
  host = host.web
  port = [80, 443, 80] # ERROR: Duplicate port
}

endpoint "overlap" {
  host = host.web
  port = ["8000-8010", 22, "8005-8020"] # ERROR: Duplicate port
}

endpoint "bad_element" {
  host = host.web
  port = [80, "x", 0, true] # ERROR: Invalid port # ERROR: Invalid port # ERROR: Invalid port
}

endpoint "list_needs_max" {
  host = host.web
  port = [22, "10000-12000"] # ERROR: Too many ports
}

endpoint "over_max" {
  host      = host.web
  port      = "1-65535" # ERROR: Too many ports
  max_ports = 60000
}

endpoint "max_zero" {
  host      = host.web
  port      = 80
  max_ports = 0 # ERROR: Value out of range
}

endpoint "max_word" {
  host      = host.web
  port      = 80
  max_ports = "all" # ERROR: Incorrect attribute value type
}

endpoint "bool" {
  host = host.web
  port = true # ERROR: Incorrect attribute value type
}
