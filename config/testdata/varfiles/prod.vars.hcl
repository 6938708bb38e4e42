port  = 8081
name  = "from-file"
list  = ["a", "b"]
stray = "declared nowhere"
