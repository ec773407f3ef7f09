-- wrk script: authenticated GraphQL requests, rotating through users (each with its own token).
-- Arguments after `--`: <users file> <operations file>
--   <scenario: tasks|task|create|createKeyed|toggle|mixed> [<dialect: taskql|postgraphile>]
-- createKeyed is create with a fresh Idempotency-Key per request (what the key costs).
-- Users file lines: "<token> <userId> <taskId,taskId,...>"
-- Operations file lines (bench/operations.py writes them from the front end's documents):
-- "<scenario> <operationName> <document as a JSON string>"

local QUERIES = {}
local NAMES = {}
local MIXED = { "tasks", "task", "tasks", "create", "toggle" }

local threads = {}
local users = {}
local scenario = "tasks"
local dialect = "taskql"
local counter = 0
local started = 0

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local token, user, ids = line:match("^(%S+) (%S+) (%S+)$")
    local list = {}
    for id in ids:gmatch("[^,]+") do
      list[#list + 1] = id
    end
    users[#users + 1] = { auth = "Bearer " .. token, user = user, ids = list }
  end
  for line in io.lines(args[2]) do
    local name, operation, query = line:match("^(%S+) (%S+) (.+)$")
    NAMES[name], QUERIES[name] = operation, query
  end
  scenario = args[3]
  dialect = args[4] or "taskql"
  counter = offset or 0
  started = os.time()
end

-- PostGraphile's variables (bench/operations.py): RLS knows the user, ids are Ints, a toggle sets
-- `completed` (alternating, as its CRUD cannot negate), a create names the owner in the row.
local function postgraphile_variables(op, u)
  if op == "tasks" then
    return '{"first":20}'
  elseif op == "create" then
    return string.format('{"input":{"task":{"userId":"%s","title":"bench task"}}}', u.user)
  end
  local id = u.ids[(counter % #u.ids) + 1]
  if op == "toggle" then
    local completed = (counter % 2 == 0) and "true" or "false"
    return string.format('{"input":{"id":%s,"taskPatch":{"completed":%s}}}', id, completed)
  end
  return string.format('{"id":%s}', id)
end

local function body(op, u)
  local variables
  if dialect == "postgraphile" then
    variables = postgraphile_variables(op, u)
  elseif op == "tasks" then
    variables = string.format('{"userId":"%s","first":20}', u.user)
  elseif op == "create" or op == "createKeyed" then
    variables = string.format('{"userId":"%s","input":{"title":"bench task"}}', u.user)
  else
    local id = u.ids[(counter % #u.ids) + 1]
    variables = string.format('{"userId":"%s","id":"%s"}', u.user, id)
  end
  return string.format('{"operationName":"%s","query":%s,"variables":%s}',
    NAMES[op], QUERIES[op], variables)
end

function request()
  counter = counter + 1
  local u = users[(counter % #users) + 1]
  local op = scenario
  if scenario == "mixed" then
    op = MIXED[(counter % #MIXED) + 1]
  end
  local headers = { ["Authorization"] = u.auth, ["Content-Type"] = "application/json" }
  if op == "createKeyed" then
    headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", started, offset or 0, counter)
  end
  return wrk.format("POST", "/graphql", headers, body(op, u))
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,'
      .. '"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
