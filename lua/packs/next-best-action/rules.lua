-- rules.lua: the default next-best-action rules.
local M = {}

local function setting(name, default)
  local v = axon.settings[name]
  if v == nil then return default end
  return v
end

-- The intents of a tagged record that reach the score threshold: name -> intent.
local function strong_intents(tags)
  local out = {}
  for _, i in ipairs(tags.intents or {}) do
    if i.score >= setting("min_score", 2) then
      out[i.intent] = i
    end
  end
  return out
end

-- Evidence for a suggestion: each intent with its matched terms, the
-- sentiment, and the record they were found in.
local function evidence(tags, intents, record_id, kind)
  local ev = {}
  for _, intent in ipairs(intents) do
    local terms = {}
    for _, h in ipairs(intent.hits or {}) do
      if h.counted and #terms < 8 then
        terms[#terms + 1] = { term = h.term, field = h.field, char_start = h.char_start,
                              char_end = h.char_end }
      end
    end
    ev[#ev + 1] = { kind = "intent", intent = intent.intent, score = intent.score, terms = terms,
                    object_id = record_id, object = kind,
                    dictionary_version = tags.dictionary_version }
  end
  if tags.sentiment and tags.sentiment.score then
    ev[#ev + 1] = { kind = "sentiment", score = tags.sentiment.score, object_id = record_id,
                    object = kind, model = tags.sentiment.model_id }
  end
  return ev
end

-- The customer's newest open deal (not won or lost), or nil.
local function open_deal(customer_id)
  for _, d in ipairs(axon.deals.find({ customer_id = customer_id }, { limit = 20, sort = "-created_at" })) do
    if d.stage ~= "won" and d.stage ~= "lost" then
      return d
    end
  end
  return nil
end

local function suggest(rule, customer_id, deal, title, action, ev)
  axon.suggest({
    rule = rule,
    key = rule .. ":" .. customer_id,           -- the same signals again add evidence, not a copy
    title = title,
    action = action,
    customer_id = customer_id,
    deal_id = deal and deal.id or nil,
    evidence = ev,
    expires_in_days = setting("expires_in_days", 14),
  })
end

-- after tickets.created / activities.created: read the record's tags.
function M.on_signal(event)
  local r = event.record
  if not r.customer_id then
    return
  end
  if r.direction == "outbound" or r.direction == "internal" or r.kind == "note" or r.kind == "task" then
    return                                      -- our own words are no customer signal
  end
  local tags = axon.tags.get(r.id)
  if not tags then
    return
  end
  local kind = event.object == "tickets" and "ticket" or "activity"
  local intents = strong_intents(tags)
  local negative = tags.sentiment and tags.sentiment.score ~= nil
                   and tags.sentiment.score <= setting("negative", -0.3)
  local deal = nil
  local function deal_once()
    if deal == nil then deal = open_deal(r.customer_id) or false end
    return deal or nil
  end

  local risks = {}
  risks[#risks + 1] = intents.delivery_risk
  risks[#risks + 1] = intents.logistics_anxiety
  if #risks > 0 and negative then
    local ev = evidence(tags, risks, r.id, kind)
    suggest("delivery-risk", r.customer_id, deal_once(),
            "Hold the quote; settle the delivery commitment first",
            "The customer is worried about delivery and unhappy. Confirm a delivery date with "
            .. "operations and call them with it before sending or revising any quote.", ev)
  end
  if intents.churn_risk and negative then
    suggest("churn-risk", r.customer_id, deal_once(),
            "Call the customer today: they talk about cancelling",
            "They mention cancelling or leaving. A senior person should call within a day, "
            .. "listen, and agree on a concrete fix.", evidence(tags, { intents.churn_risk }, r.id, kind))
  end
  if intents.price_sensitive and deal_once() then
    suggest("price-pushback", r.customer_id, deal_once(),
            "Prepare a value case before discounting",
            "The customer pushes back on price while a deal is open. Quantify the value and "
            .. "the cost of switching before offering any discount.",
            evidence(tags, { intents.price_sensitive }, r.id, kind))
  end
  if intents.billing_issue and kind == "ticket" then
    suggest("billing-dispute", r.customer_id, deal_once(),
            "Resolve the billing dispute before the next sales call",
            "An open billing problem undermines any renewal or upsell: check the invoices and "
            .. "close the ticket first.", evidence(tags, { intents.billing_issue }, r.id, kind))
  end
end

-- daily: engaging deals with no follow-up for `stalled_days`.
function M.stalled_deals(event)
  local cutoff = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - setting("stalled_days", 30) * 86400)
  local deals = axon.deals.find({ stage = "engaging", stage_changed_at = { lt = cutoff } },
                                { limit = 100 })
  for _, d in ipairs(deals) do
    if d.customer_id and (d.follow_up_date == nil or d.follow_up_date < string.sub(cutoff, 1, 10)) then
      axon.suggest({
        rule = "stalled-deal",
        key = "stalled-deal:" .. d.id,
        title = "Re-engage: this deal has not moved in " .. setting("stalled_days", 30) .. " days",
        action = "Call the buyer, confirm the decision date and the next step, and set a follow-up.",
        customer_id = d.customer_id,
        deal_id = d.id,
        evidence = { { kind = "deal", object_id = d.id, stage = d.stage,
                       stage_changed_at = d.stage_changed_at } },
        expires_in_days = 7,
      })
    end
  end
end

return M
