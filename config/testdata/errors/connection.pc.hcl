# connection blocks with mistakes.
host "jump" {
  address = "192.0.2.1"
  connection {
    user        = "ops"
    private_key = "~/.ssh/id_ed25519"
  }
}

host "good" {
  address = "10.0.0.5"
  netns   = "app"
  connection {
    bastion = host.jump
    sudo    = true
    timeout = "5s"
  }
}

host "inline" {
  address = "10.0.0.6"
  connection {
    bastion_host = "192.0.2.1"
    bastion_user = "ops"
  }
}

host "pw" {
  address = "10.0.0.7"
  connection {
    password = "hunter2"                       # ERROR: Passwords are not supported
    type     = "winrm"                         # ERROR: Unsupported connection type
    port     = 70000                           # ERROR: Value out of range
    user     = "a b"                           # ERROR: Invalid user
  }
}

host "keys" {
  address = "10.0.0.8"
  connection {
    private_key = "-----BEGIN OPENSSH PRIVATE KEY-----" # ERROR: Invalid private_key
    host        = "root@10.0.0.8"             # ERROR: Invalid host
    timeout     = "1h"                        # ERROR: Invalid timeout
  }
}

host "nojump" {
  address = "10.0.0.9"
}

host "badjump" {
  address = "10.0.0.10"
  connection {
    bastion = host.nojump                      # ERROR: Bastion without a connection
  }
}

host "undeclared" {
  address = "10.0.0.11"
  connection {
    bastion = host.nope                        # ERROR: Reference to undeclared host
  }
}

host "notref" {
  address = "10.0.0.12"
  connection {
    bastion = "jump"                           # ERROR: Invalid host reference
  }
}

host "both" {
  address = "10.0.0.13"
  connection {
    bastion          = host.jump
    bastion_user     = "ops"                   # ERROR: Conflicting attributes
    bastion_password = "x"                     # ERROR: Passwords are not supported
  }
}

host "nohost" {
  address = "10.0.0.14"
  connection {                                 # ERROR: Missing bastion_host
    bastion_port = 2222
  }
}

host "loop_a" {
  address = "10.0.0.15"
  connection {
    bastion = host.loop_b                      # ERROR: Bastion loop
  }
}

host "loop_b" {
  address = "10.0.0.16"
  connection {
    bastion = host.loop_a
  }
}

host "twice" {
  address = "10.0.0.17"
  connection {
  }
  connection {                                 # ERROR: Duplicate connection block
  }
}

host "localtoo" {
  address = "10.0.0.18"
  local   = true                               # ERROR: Conflicting attributes
  connection {
  }
}

endpoint "web" {
  host = host.good
  port = 80
}
