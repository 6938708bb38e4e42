# L6 through a third cloud, "fake3", that only a test registers: nothing
# in config, runner or cmd knows it (cloud_fake3_test.go).
variable "project" {
  default = "apollo"
}

provider "fake3" {
  region  = "moon-1"
  project = var.project
}

security_group "web" {
  provider = provider.fake3
  id       = "fw-web"

  ingress {
    protocol    = "tcp"
    ports       = 443
    cidr_blocks = ["192.0.2.0/24"]
  }
}

host "web" {
  address = "10.8.0.10"
  local   = false
}

endpoint "web" {
  host = host.web
  port = 443
  expect {
    cloud {
      provider = provider.fake3
      target   = "vm-web"
      sources  = ["192.0.2.0/25", "198.51.100.7", "192.0.2.0/23"]
    }
  }
}
