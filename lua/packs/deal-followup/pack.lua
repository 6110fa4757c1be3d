-- deal-followup: when a customer writes or calls, their open deals are
-- due a follow-up soon; a deal that is won or lost needs none.
return {
  name = "deal-followup",
  version = "1.0.0",
  description = "Moves the follow-up date of a customer's open deals when the customer replies, "
             .. "adds a task for the owner, and clears the date when a deal closes.",
  scope = "tenant",
  permissions = { "deals:read", "deals:write", "activities:write", "customers:read" },
  handlers = {
    { event = "activities.created", phase = "after", fn = "followup.on_reply", order = 50 },
    { event = "deals.stage_changed", phase = "before", fn = "followup.on_close", order = 50 },
  },
  settings = {
    days = { type = "number", default = 2, description = "follow up this many days after a reply" },
    closed_stages = { type = "list", default = { "won", "lost" },
                      description = "stages that end a deal (no follow-up)" },
    task = { type = "boolean", default = true, description = "also add a task for the deal's owner" },
  },
}
