-- report.lua - shared by the wrk scripts: one machine-readable line at the end.
--   BENCH requests=N seconds=S rps=R p50_us=A p99_us=B non2xx=E sockerr=F
-- `non2xx` is wrk's count of status >= 400 answers; `sockerr` adds up
-- connect, read, write and timeout errors. bench/run.sh refuses a result
-- with either one above zero.
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d non2xx=%d sockerr=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
