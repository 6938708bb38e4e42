# Attestations: a person's word for the steps only a person can confirm.
# An attestation naming a change or step that does not exist is a
# configuration error; one made before the change's window_start does not
# count.
attestation "nginx_to_9090" "document" {
  by   = "alice@example.com"
  at   = "2026-12-03T22:47:00Z"
  note = "change record attached to CHG-2041"
}
