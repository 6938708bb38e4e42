# Imported from testdata/list.txt.

host "host_10_0_0_5" {
  address = "10.0.0.5"
}

host "host_10_0_0_9" {
  address = "10.0.0.9"
}

host "host___1" {
  address = "::1"
}

host "host_2001_db8__9" {
  address = "2001:db8::9"
}

endpoint "tcp_22" {
  host  = host.host_10_0_0_5
  port  = 22
  state = "open"
}

endpoint "tcp_80_10_0_0_5" {
  host  = host.host_10_0_0_5
  port  = 80
  state = "open"
}

endpoint "udp_514" {
  host     = host.host_10_0_0_9
  port     = 514
  protocol = "udp"
  state    = "open"
}

endpoint "tcp_8080" {
  host  = host.host_10_0_0_9
  port  = 8080
  state = "open"
}

endpoint "tcp_80___1" {
  host  = host.host___1
  port  = 80
  state = "open"
}

endpoint "tcp_8443" {
  host  = host.host_2001_db8__9
  port  = 8443
  state = "open"
}
