-- get_by_id.lua - GET /api/v1/customers/<id> with ids picked at random from
-- the file named by BENCH_IDS (one real id a line). Used unchanged against
-- Axon and against bench/bare_mhd.c (which ignores path and headers), with
-- the same wrk command line, so both see the same requests.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/report.lua")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local ids = {}
function init(args)
  local path = os.getenv("BENCH_IDS")
  for line in io.lines(path) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  if #ids == 0 then error("no ids in " .. tostring(path)) end
  math.randomseed(1000 + (tid or 0))
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/customers/" .. id)
end
