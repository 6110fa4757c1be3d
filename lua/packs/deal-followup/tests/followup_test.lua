-- Tests of followup.lua (run in a scratch database with tests/fixtures.json).
local T = {}
local t = axon.test

local function in_days(n)
  return os.date("!%Y-%m-%d", os.time() + n * 86400)
end

function T.test_reply_moves_open_deals_of_the_customer()
  local r = t.emit({ type = "activities.created",
                     record = { kind = "email", direction = "inbound", customer_id = t.ref("acme"),
                                subject = "Re: quote", body = "Can we talk on Friday?" } })
  t.ok(r.ok, r.error)
  t.eq(axon.deals.get(t.ref("big")).follow_up_date, in_days(2))
  t.eq(axon.deals.get(t.ref("small")).follow_up_date, in_days(2))
  t.eq(axon.deals.get(t.ref("done")).follow_up_date, nil, "a won deal needs no follow-up")
  t.eq(axon.deals.get(t.ref("other")).follow_up_date, nil, "another customer's deal")
  local tasks = axon.activities.find({ kind = "task", deal_id = t.ref("big") })
  t.eq(#tasks, 1)
  t.eq(tasks[1].owner_id, t.ref("ann"))
  t.eq(tasks[1].due_at, in_days(2) .. "T09:00:00.000Z")
end

function T.test_reply_about_one_deal_moves_only_that_deal()
  local r = t.emit({ type = "activities.created",
                     record = { kind = "call", direction = "inbound", customer_id = t.ref("acme"),
                                deal_id = t.ref("small"), subject = "Called back" } })
  t.ok(r.ok, r.error)
  t.eq(axon.deals.get(t.ref("small")).follow_up_date, in_days(2))
  t.eq(axon.deals.get(t.ref("big")).follow_up_date, nil)
end

function T.test_outbound_and_notes_do_not_count()
  t.emit({ type = "activities.created",
           record = { kind = "email", direction = "outbound", customer_id = t.ref("acme"), subject = "Our offer" } })
  t.emit({ type = "activities.created",
           record = { kind = "note", customer_id = t.ref("acme"), body = "internal" } })
  t.eq(axon.deals.get(t.ref("big")).follow_up_date, nil)
end

function T.test_closing_a_deal_clears_its_follow_up()
  axon.deals.update(t.ref("big"), { follow_up_date = in_days(5) })
  local r = t.emit({ type = "deals.stage_changed", id = t.ref("big"), stage = "lost" })
  t.ok(r.ok, r.error)
  t.eq(r.record.stage, "lost")
  t.eq(r.record.follow_up_date, nil)
end

return T
