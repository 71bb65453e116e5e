"""bench/export: exporting records against paging through the list API, on one server
and its data, in turns. Arguments: PORT SERVER_PID ROUNDS (the tenant `perf`, as bench/export
loads it, and the loader's administrator)."""
import http.client, json, ssl, sys, time, os, statistics
port, pid, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl._create_unverified_context()
def conn(): return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=600)
c = conn()
c.request("POST", "/perf/api/v1/session", json.dumps({"username": "admin", "password": "load-harness-password-42"}), {"Content-Type": "application/json"})
r = c.getresponse(); tok = json.loads(r.read())["token"]
H = {"Authorization": "Bearer " + tok}
def rss():
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS"): return int(l.split()[1])
def paging():
    c = conn(); n = 0; cur = None; t = time.perf_counter(); size = 0
    while True:
        path = "/perf/api/v1/persons?limit=200" + (f"&cursor={cur}" if cur else "")
        c.request("GET", path, headers=H); r = c.getresponse(); b = r.read(); size += len(b)
        p = json.loads(b); n += len(p["items"]); cur = p.get("next_cursor")
        if not cur: break
    return time.perf_counter() - t, n, size
def export(fmt):
    c = conn(); t = time.perf_counter()
    c.request("GET", f"/perf/api/v1/persons/export?format={fmt}", headers=H); r = c.getresponse()
    assert r.status == 200, r.status
    size = 0; peak = rss()
    while True:
        b = r.read(1 << 16)
        if not b: break
        size += len(b); peak = max(peak, rss())
    return time.perf_counter() - t, size, peak
base_rss = rss()
res = {"paging": [], "csv": [], "jsonl": []}
for i in range(rounds):
    dt, n, sz = paging(); res["paging"].append(dt)
    dt2, sz2, pk2 = export("csv"); res["csv"].append(dt2)
    dt3, sz3, pk3 = export("jsonl"); res["jsonl"].append(dt3)
    print(f"round {i}: paging {dt:.2f}s ({n} records, {sz/1e6:.1f} MB) csv {dt2:.2f}s ({sz2/1e6:.1f} MB, peak RSS {pk2/1024:.0f} MB) jsonl {dt3:.2f}s ({sz3/1e6:.1f} MB, peak RSS {pk3/1024:.0f} MB)", flush=True)
m = {k: statistics.median(v) for k, v in res.items()}
print(json.dumps({"records": n, "median_s": m, "csv_over_paging": m["csv"]/m["paging"], "jsonl_over_paging": m["jsonl"]/m["paging"], "records_per_s_csv": n/m["csv"], "records_per_s_paging": n/m["paging"], "rss_before_mb": base_rss/1024}, indent=1))
