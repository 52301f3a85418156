-- (b) GET /v1/secrets/BENCH: the secret's details, no value.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
wrk.method = "GET"
wrk.path = "/v1/secrets/BENCH"
