local M = {}

function M.run(event)
  axon.notes.add({ customer_id = event.record.id, subject = "Welcome",
                   body = "New customer " .. event.record.name })
end

return M
