-- Baseline: GET / on the bare axum server (64-byte body).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
wrk.method = "GET"
