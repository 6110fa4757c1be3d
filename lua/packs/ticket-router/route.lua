-- route.lua: keyword routing for new tickets.
local M = {}

local function ticket_text(t)
  return axon.text.fold((t.subject or "") .. " " .. (t.description or ""))
end

-- The first queue whose keyword the ticket mentions: keyword, agent e-mail.
local function match_queue(text)
  for _, entry in ipairs(axon.settings.queues or {}) do
    local keyword, email = string.match(entry, "^(.-)=(.+)$")
    if keyword and axon.text.contains(text, keyword) then
      return keyword, email
    end
  end
  return nil
end

local function is_urgent(text)
  for _, word in ipairs(axon.settings.urgent_words or {}) do
    if axon.text.contains(text, word) then
      return word
    end
  end
  return nil
end

-- The active agent with this e-mail, or nil.
local function agent(email)
  return axon.users.find({ email = email, active = true }, { limit = 1 })[1]
end

-- before tickets.created: set owner_id and priority on the record.
function M.assign(event)
  local t = event.record
  local text = ticket_text(t)
  local keyword, email = match_queue(text)
  if keyword and (t.owner_id == nil or t.owner_id == event.actor.user_id) then
    local a = agent(email)
    if a then
      t.owner_id = a.id
    end
  end
  if is_urgent(text) then
    t.priority = (t.priority == "high" or t.priority == "critical") and "critical" or "high"
  end
end

-- after tickets.created: an internal note on the ticket saying why. The
-- note commits together with the delivery's success, so a retry after a
-- failure cannot add it twice.
function M.explain(event)
  local t = event.record
  local text = ticket_text(t)
  local keyword, email = match_queue(text)
  local a = keyword and agent(email)
  local routed = a and t.owner_id == a.id
  local urgent = is_urgent(text)
  if not routed and not urgent then
    return
  end
  local lines = {}
  if routed then
    lines[#lines + 1] = string.format("Routed to %s because the ticket mentions \"%s\".", email, keyword)
  end
  if urgent then
    lines[#lines + 1] = string.format("Priority set to %s because it says \"%s\".", t.priority, urgent)
  end
  axon.notes.add({
    subject = "Ticket routing",
    body = table.concat(lines, " "),
    ticket_id = t.id,
    customer_id = t.customer_id,
    direction = "internal",
  })
end

return M
