# The fleet that examples/ansible/collect.yml collects: each host's L1-L3
# facts come from the document its play fetched (verify -facts matches the
# HCL host name to `collect -name`, which the playbook sets to the
# inventory_hostname), and the probes run from the controller unless
# verify runs with -offline.

host "web1" {
  address = "10.20.0.11"
}

host "web2" {
  address = "10.20.0.12"
}

endpoint "web1_https" {
  host = host.web1
  port = 443

  expect {
    listening {
      process = "nginx"
    }
  }
}

endpoint "web2_https" {
  host = host.web2
  port = 443

  expect {
    listening {
      process = "nginx"
    }
  }
}

# Database port: never open to anyone.
endpoint "web1_postgres" {
  host  = host.web1
  port  = 5432
  state = "closed"
}
