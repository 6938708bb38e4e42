# The seed's case 2 as a change: nginx moves from 8080 to 9090 on a host
# with SELinux enforcing, behind a firewalld, an AWS security group and an
# ELBv2 target group; clients find it through DNS and Prometheus watches it.

host "web" {
  address = "10.20.0.5"
  netns   = "web"
}

host "client" {
  address = "10.20.0.9"
  netns   = "client"
}

provider "aws" {
  region = "eu-west-1"
}

endpoint "nginx" {
  host = host.web
  port = 9090
  from = [host.client]

  expect {
    listening {
      process = "nginx"
    }
    firewall {
      allow_from = ["10.20.0.0/24"]
      backend    = "firewalld"
    }
  }
}
