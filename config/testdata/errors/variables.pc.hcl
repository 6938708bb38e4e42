variable "required" { # ERROR: No value for required variable
  type = number
}

variable "bad-default" {
  type    = number
  default = "eighty" # ERROR: Invalid default value for variable
}

variable "with_ref" {
  default = var.required # ERROR: Variables not allowed
}

variable "9lives" { # ERROR: Invalid variable name
  default = 9
}

variable "documented" {
  default     = 1
  description = ["not", "a", "string"] # ERROR: Incorrect attribute value type
  sensitive   = true # ERROR: Unsupported argument
}

host "web" {
  address = "10.0.0.5"
}

# Uses variables whose values are broken: no second error.
endpoint "web" {
  host = host.web
  port = var.required
}

endpoint "other" {
  host = host.web
  port = var.bad-default
}
