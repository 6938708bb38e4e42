# The fake3 backend's own checks of its block and of its rules.
provider "fake3" { # ERROR: Missing region
  project = "apollo"
  profile = "x" # ERROR: Unsupported argument
}

security_group "web" {
  provider = provider.fake3
  id       = "fw-web"

  ingress {
    protocol    = "tcp"
    ports       = 22
    cidr_blocks = ["10.0.0.0/8"]
    policy      = "drop" # ERROR: Invalid policy
  }
}
