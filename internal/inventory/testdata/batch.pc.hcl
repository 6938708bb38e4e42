# Imported from testdata/batch.txt.

host "host_10_0_0_5" {
  address = "10.0.0.5"
}

host "host_10_0_0_6" {
  address = "10.0.0.6"
}

host "host_10_0_0_7" {
  address = "10.0.0.7"
}

host "host___1" {
  address = "::1"
}

host "host_2001_db8__5" {
  address = "2001:db8::5"
}

endpoint "ssh_10_0_0_5" {
  host  = host.host_10_0_0_5
  port  = 22
  state = "open"
}

endpoint "http_10_0_0_5" {
  host  = host.host_10_0_0_5
  port  = 80
  state = "open"
}

endpoint "https_10_0_0_5" {
  host  = host.host_10_0_0_5
  port  = 443
  state = "open"
}

endpoint "ssh_10_0_0_6" {
  host  = host.host_10_0_0_6
  port  = 22
  state = "open"
}

endpoint "domain_53" {
  host  = host.host_10_0_0_6
  port  = 53
  state = "open"
}

endpoint "domain_53_udp" {
  host     = host.host_10_0_0_6
  port     = 53
  protocol = "udp"
  state    = "open"
}

endpoint "postgresql" {
  host  = host.host_10_0_0_6
  port  = 5432
  state = "open"
}

endpoint "http-alt_8080" {
  host  = host.host_10_0_0_7
  port  = 8080
  state = "open"
}

endpoint "http-alt_8081" {
  host  = host.host_10_0_0_7
  port  = 8081
  state = "open"
}

endpoint "http___1" {
  host  = host.host___1
  port  = 80
  state = "open"
}

endpoint "https_2001_db8__5" {
  host  = host.host_2001_db8__5
  port  = 443
  state = "open"
}
