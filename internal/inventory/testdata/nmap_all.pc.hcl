# Imported from testdata/nmap.xml.

host "web1_example_com" {
  address = "10.0.0.5"
}

host "host_10_0_0_6" {
  address = "10.0.0.6"
}

host "db_example_com" {
  address = "2001:db8::7"
}

endpoint "ssh_web1_example_com" {
  host  = host.web1_example_com
  port  = 22
  state = "open"
}

endpoint "telnet" {
  host  = host.web1_example_com
  port  = 23
  state = "closed"
}

endpoint "http" {
  host  = host.web1_example_com
  port  = 80
  state = "open"
}

endpoint "https" {
  host  = host.web1_example_com
  port  = 443
  state = "open"
}

endpoint "mysql_web1_example_com" {
  host  = host.web1_example_com
  port  = 3306
  state = "closed"
}

endpoint "ssh_10_0_0_6" {
  host  = host.host_10_0_0_6
  port  = 22
  state = "open"
}

endpoint "domain" {
  host     = host.host_10_0_0_6
  port     = 53
  protocol = "udp"
  state    = "open"
}

endpoint "mysql_10_0_0_6" {
  host  = host.host_10_0_0_6
  port  = 3306
  state = "closed"
}

endpoint "http-proxy" {
  host  = host.host_10_0_0_6
  port  = 8080
  state = "open"
}

endpoint "ssh_db_example_com" {
  host  = host.db_example_com
  port  = 22
  state = "open"
}

endpoint "postgresql" {
  host  = host.db_example_com
  port  = 5432
  state = "open"
}
