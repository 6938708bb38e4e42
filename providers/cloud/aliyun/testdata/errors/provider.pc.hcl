# A provider "aliyun" block the aliyun backend refuses
# (runner.DecodeProviders).
provider "aliyun" { # ERROR: Missing region
  endpoint        = "http://127.0.0.1:1"
  profile         = "audit" # ERROR: Unsupported argument
  assume_role_arn = "arn:acs:ram::1:role/x" # ERROR: Unsupported argument
}
