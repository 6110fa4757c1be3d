-- post_customer.lua - POST /api/v1/customers with a new customer per request
-- (a JSON body of ~330 bytes; Axon stores ~550 bytes of document plus the
-- columns, its audit row and its search-index entry). The API key comes
-- from wrk's -H "Authorization: Bearer ...".
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/report.lua")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local words = {"amber", "birch", "cedar", "delta", "ember", "falcon", "granite", "harbor",
               "indigo", "juniper", "kestrel", "lumen", "meadow", "nimbus", "orchid", "pioneer"}
local sectors = {"technology", "retail", "medical", "finance", "telecom", "energy"}
local n = 0
function init(args)
  math.randomseed(2000 + (tid or 0))
  -- wrk.format() replaces wrk.headers when given a table: add to it instead,
  -- so the -H Authorization header is kept.
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local w1, w2 = words[math.random(#words)], words[math.random(#words)]
  local body = string.format(
    '{"name":"%s %s %d-%d Ltd","email":"contact%d.%d@%s-%s.example.com",' ..
    '"phone":"+1-555-%04d","sector":"%s","tier":"B","region":"West",' ..
    '"country":"United States","city":"Denver","revenue":12.5,"employees":%d,' ..
    '"year_established":1999}',
    w1, w2, tid or 0, n, tid or 0, n, w1, w2, n % 10000, sectors[math.random(#sectors)],
    math.random(10, 5000))
  return wrk.format("POST", "/api/v1/customers", nil, body)
end
