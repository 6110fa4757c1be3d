-- next-best-action: Axon's default suggestion rules. Each rule reads the
-- signals Axon already has (the intents and sentiment a ticket or message
-- was tagged with on write, the customer's open deals) and suggests what
-- to do next, with the evidence, merged while it stays open or accepted.
return {
  name = "next-best-action",
  version = "1.0.0",
  description = "Default next-best-action rules: delivery risk before a quote, churn risk, "
             .. "price pushback, billing disputes before a renewal, stalled deals.",
  scope = "tenant",
  permissions = {
    "tickets:read", "activities:read", "deals:read", "customers:read", "suggestions:write",
  },
  handlers = {
    { event = "tickets.created", phase = "after", fn = "rules.on_signal", order = 50 },
    { event = "activities.created", phase = "after", fn = "rules.on_signal", order = 50 },
  },
  schedules = {
    { daily = "06:00", fn = "rules.stalled_deals" },
  },
  settings = {
    negative = { type = "number", default = -0.3,
                 description = "sentiment at or below this counts as negative" },
    min_score = { type = "number", default = 2,
                  description = "an intent counts when its score in the text reaches this" },
    stalled_days = { type = "number", default = 30,
                     description = "an engaging deal untouched this long is stalled" },
    expires_in_days = { type = "number", default = 14 },
  },
}
