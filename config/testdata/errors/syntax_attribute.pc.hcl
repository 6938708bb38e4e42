host "web" {
  address "10.0.0.5" # ERROR: Invalid block definition
}
