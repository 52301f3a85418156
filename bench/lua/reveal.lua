-- (a) POST /v1/secrets/BENCH/reveal with `{}`: decrypts the current version and audits the reveal.
-- The token comes from run.sh as `-H "Authorization: Bearer ..."`.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
wrk.method = "POST"
wrk.path = "/v1/secrets/BENCH/reveal"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{}"
