-- (e) GET /v1/environment as an identity that may read 100 secrets: opens and audits all 100.
-- The identity's token comes from run.sh as `-H "Authorization: Bearer ..."`.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
wrk.method = "GET"
wrk.path = "/v1/environment"
