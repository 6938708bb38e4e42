# Cloud providers, security groups and cloud expectations with wrong values.
provider "aws" {
  region       = "eu-west-1"
  vpc_endpoint = "https://vpc.example" # ERROR: Unsupported argument
}

provider "gcp" { # ERROR: Unknown cloud provider
  region = "x"
}

provider "aliyun" { # ERROR: Missing region
  endpoint = "http://127.0.0.1:1"
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
    policy      = "drop" # ERROR: Invalid policy
  }
  ingress {
    protocol = "tcp"
    ports    = 22
    priority = 5 # ERROR: Unsupported argument
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
