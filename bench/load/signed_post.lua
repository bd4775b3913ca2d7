-- wrk script: POST the same signed webhook again and again (every server under test gets these exact bytes).
-- WAMUX_BENCH_BODY: path of the body file; WAMUX_BENCH_SIGNATURE: its "sha256=<hex>" header (bench/load/payload.py).
local f = assert(io.open(os.getenv("WAMUX_BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Hub-Signature-256"] = os.getenv("WAMUX_BENCH_SIGNATURE")
