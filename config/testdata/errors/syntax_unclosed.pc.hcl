# A block that is never closed: only the syntax error is reported.
host "web" { # ERROR: Unclosed configuration block
  address = "10.0.0.5"
