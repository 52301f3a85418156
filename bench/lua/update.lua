-- (d) PATCH /v1/secrets/BENCH with a new 64-character value: a new version every time, no expected_version.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
wrk.method = "PATCH"
wrk.path = "/v1/secrets/BENCH"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"value":"' .. string.rep("u", 64) .. '"}'
