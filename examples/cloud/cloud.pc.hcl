variable "region" {
  type    = string
  default = "eu-west-1"
}

provider "aws" {
  region = var.region
  # profile         = "audit"
  # assume_role_arn = "arn:aws:iam::123456789012:role/portcheck-readonly"
  # endpoint        = "https://vpce-0abc.ec2.eu-west-1.vpce.amazonaws.com"
}

# The rules sg-web must hold, exactly; egress is compared too because an
# egress block is declared.
security_group "web" {
  provider = provider.aws
  id       = "sg-0123456789abcdef0"

  ingress {
    protocol    = "tcp"
    ports       = 443
    cidr_blocks = ["0.0.0.0/0", "::/0"]
    description = "HTTPS from anywhere"
  }
  ingress {
    protocol     = "tcp"
    ports        = "8080-8081"
    prefix_lists = ["pl-0123456789abcdef0"]
    description  = "office"
  }
  egress {
    protocol    = "all"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

host "web" {
  address = "10.0.1.10"
  local   = false
}

endpoint "web_admin" {
  host = host.web
  port = 8080

  expect {
    cloud {
      provider        = provider.aws
      target          = "i-0123456789abcdef0" # or an ENI id or a private IP; default: the endpoint address
      sources         = ["192.0.2.10", "10.0.2.0/24"]
      ephemeral_ports = "32768-60999" # Linux clients; AWS advises 1024-65535 (the default)
    }
  }
}
