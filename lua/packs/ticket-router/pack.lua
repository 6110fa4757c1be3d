-- ticket-router: a new ticket goes to the right agent, and urgent ones
-- are marked so, before the ticket is saved; an internal note then says
-- why it was routed so (an after handler: it writes).
return {
  name = "ticket-router",
  version = "1.0.0",
  description = "Assigns new tickets to an agent by keywords in the subject and description, "
             .. "raises the priority of urgent ones, and notes why.",
  scope = "tenant",
  permissions = { "tickets:read", "users:read", "activities:write" },
  handlers = {
    { event = "tickets.created", phase = "before", fn = "route.assign", order = 10 },
    { event = "tickets.created", phase = "after", fn = "route.explain", order = 10 },
  },
  settings = {
    queues = {
      type = "list",
      description = "keyword=agent e-mail; the first keyword found in the ticket wins",
      default = {
        "refund=billing@demo.example", "invoice=billing@demo.example",
        "退款=billing@demo.example", "发票=billing@demo.example",
        "outage=oncall@demo.example", "down=oncall@demo.example",
        "宕机=oncall@demo.example", "password=support@demo.example",
      },
    },
    urgent_words = {
      type = "list",
      description = "words that make a ticket high priority (critical when already high)",
      default = { "urgent", "asap", "immediately", "紧急", "马上", "投诉" },
    },
  },
}
