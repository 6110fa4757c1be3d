-- bench-after: an after handler that writes one record per event, for
-- `make bench`'s after-handler throughput.
return {
  name = "bench-after",
  version = "1.0.0",
  permissions = { "activities:write" },
  handlers = { { event = "customers.created", phase = "after", fn = "welcome.run" } },
}
