# Values of the wrong type in a provider "aws" block.
provider "aws" {
  region   = ["eu-west-1"] # ERROR: Incorrect attribute value type
  endpoint = { url = "http://127.0.0.1:1" } # ERROR: Incorrect attribute value type
  profile  = null
}
