-- Shared by every scenario: wrk's done() prints one machine-readable line that run.sh parses.
--   RESULT requests=N duration_s=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D non2xx=E connect=F read=G write=H timeout=I
-- non2xx is wrk's summary.errors.status: responses whose status is 400 or more (nothing here
-- answers 1xx or 3xx, so it counts every non-2xx answer). connect/read/write/timeout are socket errors.
function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000,
      e.status, e.connect, e.read, e.write, e.timeout))
end
