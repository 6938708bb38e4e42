host "jump" {
  address = "192.0.2.1"
  connection {
    user        = "ops"
    port        = 2222
    private_key = "~/.ssh/id_ed25519"
    known_hosts = "keys/known_hosts"
  }
}

host "app" {
  addresses = ["10.0.0.5", "fd00::5"]
  netns     = "app"
  connection {
    bastion = host.jump
    sudo    = true
    timeout = "5s"
  }
}

host "v6" {
  address = "fd00::6"
  connection {
    user                = "deploy"
    bastion_host        = "bastion.example"
    bastion_user        = "ops"
    bastion_private_key = "/etc/portcheck/bastion_key"
  }
}

host "here" {
  address = "127.0.0.1"
}

endpoint "web" {
  host = host.app
  port = 80
}
