-- wrk script for kv-put: POST /kv with a 100-byte body; the server stores it
-- under a key of its own making ("w-" + a random UUID), one new key each.
wrk.method = "POST"
wrk.body = string.rep("v", 100)
wrk.headers["Content-Type"] = "application/octet-stream"
