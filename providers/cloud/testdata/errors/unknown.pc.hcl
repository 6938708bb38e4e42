# A provider type no backend serves is an error at the block's label,
# once: never read, judged or fixed as another cloud.
provider "gcp" { # ERROR: Unknown cloud provider
  project = "p"
}

security_group "web" {
  provider = provider.gcp
  id       = "fw-1"

  ingress {
    protocol    = "tcp"
    ports       = 22
    cidr_blocks = ["10.0.0.0/8"]
    policy      = "drop"
  }
}

host "web" {
  address = "10.0.0.5"
}

endpoint "web" {
  host = host.web
  port = 443
  expect {
    cloud {
      provider = provider.gcp
    }
  }
}
