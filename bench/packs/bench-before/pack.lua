-- bench-before: a before handler of the size real checks have (reads the
-- record and a setting, may change or reject it), for `make bench`.
return {
  name = "bench-before",
  version = "1.0.0",
  permissions = {},
  handlers = { { event = "customers.created", phase = "before", fn = "check.run" } },
  settings = { default_region = { type = "string", default = "Unassigned" } },
}
