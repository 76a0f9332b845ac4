-- wrk script for d1-read: GET /item?id=N with N uniform over the 10,000 seed rows.
-- bench/data passes the Host header with -H (Outpost serve routes by host).
math.randomseed(42)
request = function()
  return wrk.format("GET", "/item?id=" .. math.random(1, 10000))
end
