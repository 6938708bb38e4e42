host "web" {
  address = # ERROR: Invalid expression
}
