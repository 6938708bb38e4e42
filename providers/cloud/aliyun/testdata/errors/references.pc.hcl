# References a provider "aliyun" block cannot make; rules Alibaba Cloud
# expresses (drop, priority) are fine.
locals {
  vpc = "http://127.0.0.1:2"
}

provider "aliyun" {
  region       = local.region # ERROR: Reference to undeclared value
  vpc_endpoint = local.vpc
  endpoint     = endpoint.web # ERROR: Invalid reference
}

security_group "web" {
  provider = provider.aliyun
  id       = "sg-1"

  ingress {
    protocol    = "tcp"
    ports       = 22
    cidr_blocks = ["10.0.0.0/8"]
    policy      = "drop"
    priority    = 5
  }
}
