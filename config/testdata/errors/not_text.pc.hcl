# A file saved in Latin-1: portcheck reads UTF-8 text only, and says so
# once instead of once per character.
host "web" {
  address = "10.0.0.5"
}
# café # ERROR: Not a text file
