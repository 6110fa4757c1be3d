-- Tests of the default next-best-action rules (scratch database, fixtures).
local T = {}
local t = axon.test

local LATE = "这批货什么时候能到？物流太慢了，交货期一再延误，我们很不满意"

local function suggestions(customer)
  return axon.suggestions.find({ customer_id = customer })
end

function T.test_negative_delivery_ticket_makes_one_suggestion()
  local r = t.emit({ type = "tickets.created",
                     record = { subject = "货还没到", description = LATE, customer_id = t.ref("acme") } })
  t.ok(r.ok, r.error)
  local s = suggestions(t.ref("acme"))
  t.eq(#s, 1)
  t.eq(s[1].rule, "next-best-action/delivery-risk")
  t.eq(s[1].title, "Hold the quote; settle the delivery commitment first")
  t.eq(s[1].deal_id, t.ref("quote"))                  -- the open deal, not the won one
  t.eq(s[1].evidence[1].kind, "intent")
  t.eq(s[1].evidence[1].object_id, r.record.id)
  local last = s[1].evidence[#s[1].evidence]
  t.eq(last.kind, "sentiment")
  t.ok(last.score < -0.3, "negative sentiment in the evidence")
end

function T.test_the_same_signals_again_merge()
  for _ = 1, 2 do
    t.emit({ type = "tickets.created",
             record = { subject = "货还没到", description = LATE, customer_id = t.ref("acme") } })
  end
  local s = suggestions(t.ref("acme"))
  t.eq(#s, 1)
  t.eq(s[1].occurrences, 2)
end

function T.test_happy_customers_get_nothing()
  t.emit({ type = "activities.created",
           record = { kind = "email", direction = "inbound", customer_id = t.ref("calm"),
                      subject = "Thanks", body = "Delivery was fast and everything works, thank you!" } })
  t.eq(#suggestions(t.ref("calm")), 0)
end

function T.test_our_own_notes_are_no_signal()
  t.emit({ type = "activities.created",
           record = { kind = "note", customer_id = t.ref("acme"), body = LATE } })
  t.eq(#suggestions(t.ref("acme")), 0)
end

return T
