# Cloud providers, security groups and cloud expectations with wrong values.
# A provider block's body, and what its cloud can express in a rule, are
# its backend's to check (runner.DecodeProviders; fixtures in
# providers/cloud/testdata and each backend's testdata).
provider "aws" {
  region = "eu-west-1"
}

provider "aws" { # ERROR: Duplicate provider
  region = "eu-west-2"
}

security_group "web" {
  provider = provider.aws
  id       = "sg-1"

  ingress {
    protocol    = "tcpx" # ERROR: Invalid protocol
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    protocol    = "tcp"
    ports       = "443-80" # ERROR: Invalid port range
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    protocol    = "tcp"
    ports       = 22
    cidr_blocks = ["10.0.0.0/8"]
    policy      = "deny" # ERROR: Invalid policy
  }
  ingress {
    protocol    = "tcp"
    ports       = 22
    priority    = 101 # ERROR: Value out of range
    cidr_blocks = ["10.0.0.0/8"]
  }
  ingress { # ERROR: Missing peer
    protocol = "udp"
  }
  ingress { # ERROR: Missing protocol
    cidr_blocks = ["10.0.0.0/8"]
  }
  egress {
    protocol    = "icmp"
    ports       = 8 # ERROR: Ports not allowed
    cidr_blocks = ["0.0.0.0/0"]
  }
}

security_group "dup_id" { # ERROR: Duplicate security group id
  provider = provider.aws
  id       = "sg-1"
}

security_group "no_provider" {
  provider = provider.azure # ERROR: Reference to undeclared provider
  id       = "sg-2"
}

host "web" {
  address = "10.0.0.5"
}

endpoint "a" {
  host = host.web
  port = 443
  expect {
    cloud { # ERROR: Missing provider
      target = "i-1"
    }
  }
}

endpoint "b" {
  host = host.web
  port = 444
  expect {
    cloud {
      provider        = provider.aws
      ephemeral_ports = "70000" # ERROR: Invalid port range
    }
  }
}
