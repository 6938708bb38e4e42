locals {
  a = local.b # ERROR: Cycle in local values
  b = local.a # ERROR: Cycle in local values
  c = local.c # ERROR: Cycle in local values
  # Depends on a cycle without being part of it: no error of its own.
  d = "${local.a}-x"
  e = upper(local.f)
  f = "fine"
}

host "web" {
  address = local.d
}
