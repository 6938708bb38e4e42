# Security group rules AWS cannot express: the aws backend's CheckRule.
provider "aws" {
  region = "eu-west-1"
}

security_group "web" {
  provider = provider.aws
  id       = "sg-1"

  ingress {
    protocol    = "tcp"
    ports       = 22
    cidr_blocks = ["10.0.0.0/8"]
    policy      = "drop" # ERROR: Invalid policy
  }
  ingress {
    protocol    = "tcp"
    ports       = 22
    cidr_blocks = ["10.0.0.0/8"]
    priority    = 5 # ERROR: Unsupported argument
  }
  egress {
    protocol    = "all"
    cidr_blocks = ["0.0.0.0/0"]
    policy      = "accept"
  }
}
