local M = {}

function M.run(event)
  local c = event.record
  if c.email and not string.find(c.email, "@", 1, true) then
    axon.reject("an e-mail address needs an @", "email")
  end
  if c.revenue and c.revenue > 100 then
    c.tier = "A"
  end
  c.region = c.region or axon.settings.default_region
end

return M
