# The fleet the playbook collects: hosts named as in the inventory. verify
# -facts matches each document to its host by that name.

host "web1" {
  address = "192.0.2.21"
}

host "web2" {
  address = "192.0.2.22"
}

endpoint "web1_https" {
  host = host.web1
  port = 443
}

endpoint "web2_https" {
  host = host.web2
  port = 443
}
