-- GET /api/v1/events: namespace + reason + a random 1-hour window of January 2025, 100 per page.
local combos = {{"default", "FailedMount"}, {"qakots", "BackOff"}, {"default", "NodeHasSufficientMemory"}}
math.randomseed(42)
request = function()
  local c = combos[math.random(#combos)]
  local h = math.random(0, 29 * 24 - 1)
  local day, hour = math.floor(h / 24) + 1, h % 24
  local path = string.format(
    "/api/v1/events?namespace=%s&reason=%s&since=2025-01-%02dT%02d:00:00Z&until=2025-01-%02dT%02d:59:59Z&limit=100",
    c[1], c[2], day, hour, day, hour)
  return wrk.format("GET", path)
end
