-- followup.lua: keep deals' follow-up dates in step with the customer.
local M = {}

local REPLY_KINDS = { email = true, chat = true, call = true, sms = true, meeting = true }

local function closed(stage)
  for _, s in ipairs(axon.settings.closed_stages or {}) do
    if s == stage then
      return true
    end
  end
  return false
end


-- The day `days` after now, as YYYY-MM-DD (UTC).
local function days_from_now(days)
  return os.date("!%Y-%m-%d", os.time() + math.floor(days * 86400))
end

-- after activities.created: an inbound message moves the follow-up date of
-- the deal it is about, or else of every open deal of the customer.
function M.on_reply(event)
  local a = event.record
  if a.direction ~= "inbound" or not REPLY_KINDS[a.kind] then
    return
  end
  local deals
  if a.deal_id then
    deals = { axon.deals.get(a.deal_id) }
  elseif a.customer_id then
    deals = axon.deals.find({ customer_id = a.customer_id }, { limit = 50 })
  else
    return
  end
  local due = days_from_now(axon.settings.days or 2)
  for _, deal in ipairs(deals) do
    if not closed(deal.stage) and deal.follow_up_date ~= due then
      axon.deals.update(deal.id, { follow_up_date = due })
      if axon.settings.task and deal.owner_id then
        axon.tasks.add({
          subject = "Follow up: " .. (deal.name or deal.id),
          body = "The customer wrote: " .. string.sub(a.subject or a.body or "", 1, 200),
          deal_id = deal.id,
          customer_id = deal.customer_id,
          owner_id = deal.owner_id,
          due_at = due .. "T09:00:00Z",
        })
      end
    end
  end
end

-- before deals.stage_changed: a closed deal needs no follow-up.
function M.on_close(event)
  if closed(event.record.stage) then
    event.record.follow_up_date = nil
  end
end

return M
