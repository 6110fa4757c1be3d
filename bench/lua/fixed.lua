-- fixed.lua - the URL given to wrk, as is (headers from -H); only reports.
dofile((os.getenv("BENCH_LUA") or "bench/lua") .. "/report.lua")
