-- Tests of route.lua, run by Axon in a scratch database before the pack
-- can be published (and by `axon pack test lua/packs/ticket-router`).
local T = {}
local t = axon.test

function T.test_refund_goes_to_billing()
  local r = t.emit({ type = "tickets.created",
                     record = { subject = "Refund for order 1142", customer_id = t.ref("acme") } })
  t.ok(r.ok, r.error)
  t.eq(r.record.owner_id, t.ref("billing"))
  t.eq(r.record.priority, "medium")
end

function T.test_chinese_keyword_and_urgency()
  local r = t.emit({ type = "tickets.created",
                     record = { subject = "服务器宕机了", description = "紧急！请马上处理", priority = "high" } })
  t.ok(r.ok, r.error)
  t.eq(r.record.owner_id, t.ref("oncall"))
  t.eq(r.record.priority, "critical")
end

function T.test_explains_with_a_note()
  local r = t.emit({ type = "tickets.created", record = { subject = "URGENT: invoice is wrong" } })
  t.ok(r.ok, r.error)
  local notes = axon.activities.find({ ticket_id = r.record.id })
  t.eq(#notes, 1)
  t.eq(notes[1].kind, "note")
  t.ok(string.find(notes[1].body, "billing@demo.example", 1, true), notes[1].body)
  t.ok(string.find(notes[1].body, "Priority set to high", 1, true), notes[1].body)
end

function T.test_leaves_other_tickets_alone()
  local r = t.emit({ type = "tickets.created", record = { subject = "How do I export a report?" } })
  t.ok(r.ok, r.error)
  t.eq(r.record.owner_id, nil)
  t.eq(#axon.activities.find({ ticket_id = r.record.id }), 0)
end

return T
