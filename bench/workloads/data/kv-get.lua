-- wrk script for kv-get: GET /kv?key=kN with N uniform over the 10,000 seeded keys.
-- bench/data passes the Host header with -H (Outpost serve routes by host).
math.randomseed(42)
request = function()
  return wrk.format("GET", "/kv?key=k" .. math.random(1, 10000))
end
