# A provider "aws" block the aws backend refuses: arguments it does not
# take, references a provider block cannot make (runner.DecodeProviders).
variable "profile" {
  default = "audit"
}

host "web" {
  address = "10.0.0.5"
}

provider "aws" {
  region          = "eu-west-1"
  profile         = var.profile
  assume_role_arn = var.role # ERROR: Reference to undeclared value
  endpoint        = host.web.address # ERROR: Invalid reference
  vpc_endpoint    = "https://vpc.example" # ERROR: Unsupported argument
  regoin          = "eu-west-2" # ERROR: Unsupported argument

  assume_role { # ERROR: Unsupported block type
    role_arn = "arn:aws:iam::123456789012:role/x"
  }
}
