# Bytes that are not UTF-8 (a Latin-1 "é" here) are skipped in comments, as
# HCL does, and are an error elsewhere. A file that is mostly not UTF-8,
# or holds a NUL byte, is refused whole as "Not a text file" (source_test.go).
host "web" {
  address = "10.0.0.5"
}

endpoint "web" {
  host = host.web
  port = 80
  expect {
    banner {
      match = "café" # ERROR: Invalid character encoding # ERROR: Unterminated template string
    }
  }
}
