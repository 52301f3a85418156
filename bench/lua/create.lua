-- (c) POST /v1/secrets with a new name on every request: B_<thread>_<n>, a 64-character text value.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local next_thread = 0
function setup(thread)
   next_thread = next_thread + 1
   thread:set("thread_id", next_thread)
end

local counter = 0
local value = string.rep("c", 64)
local headers = { ["Content-Type"] = "application/json" }

function init(args)
   -- A run-unique tag, so that running the script twice against one server does not collide.
   run_tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())
   -- Copy the -H headers (Authorization) given on wrk's command line.
   for k, v in pairs(wrk.headers) do headers[k] = v end
end

function request()
   counter = counter + 1
   local name = string.format("B_%s_%d_%d", run_tag, thread_id, counter)
   local body = string.format('{"name":"%s","type":"text","value":"%s"}', name, value)
   return wrk.format("POST", "/v1/secrets", headers, body)
end
