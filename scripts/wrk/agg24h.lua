-- GET /api/v1/aggregate: occurrences by reason over a random day of January 2025.
math.randomseed(42)
request = function()
  local day = math.random(1, 29)
  local path = string.format(
    "/api/v1/aggregate?group_by=reason&since=2025-01-%02dT00:00:00Z&until=2025-01-%02dT00:00:00Z",
    day, day + 1)
  return wrk.format("GET", path)
end
