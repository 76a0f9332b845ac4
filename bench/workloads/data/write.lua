-- wrk script for d1-write: POST /item with a small JSON body (one INSERT each).
wrk.method = "POST"
wrk.body = '{"name":"widget","price":9.5}'
wrk.headers["Content-Type"] = "application/json"
