#!/usr/bin/python3
"""Helpers of bench/run (Python 3 standard library only).

  tool.py send URL_PREFIX FILE COUNT [SKIP]
      sends records SKIP..SKIP+COUNT-1 of a gen.py FILE over one keep-alive
      connection, one at a time; exits 1 unless every reply is 2xx.
  tool.py send-kind URL_PREFIX KIND COUNT BASE NP_KEY SP_SECRET
      sends COUNT fresh deliveries of one KIND (nicepay-paid, steppay-order)
      with ids from BASE on; prints the body sizes.
  tool.py capture PGLOG FUNCTION OUT_SQL OUT_VARS PREFIX TOKEN...
      finds the last statement calling FUNCTION in a log written with
      log_statement=all and writes it as a pgbench script: the statement's
      text as payhook sent it, each $N a pgbench variable PREFIX_N (bound
      as a parameter with pgbench -M extended), its value in OUT_VARS (one
      NAME=VALUE per line, for -D). Parameters that make a delivery unique
      (the body's SHA-256, the provider's ids) become an expression of a
      random key :k instead, so that every transaction is a new delivery:
      the body's SHA-256 and every parameter but the payload ($7) that
      holds one of the TOKENs (the ids of the captured delivery).
  tool.py pgbench-pct LOGFILE...
      p50, p99 and max latency (ms) from pgbench --log files.
  tool.py report RESULTS_TSV OUT_MD OUT_DAT
      the Markdown table and gnuplot data from bench/run's results.
"""

import glob
import http.client
import re
import sys
import urllib.parse


def read_records(path):
    with open(path, "rb") as f:
        while True:
            line = f.readline()
            if not line:
                return
            ep, nh, ln = line.decode().split()
            hdr = {}
            for _ in range(int(nh)):
                k, v = f.readline().decode().rstrip("\n").split(": ", 1)
                hdr[k] = v
            body = f.read(int(ln))
            f.read(1)
            yield ep, hdr, body


def post_all(prefix, reqs):
    u = urllib.parse.urlsplit(prefix)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    n = 0
    for ep, hdr, body in reqs:
        conn.request("POST", u.path + ep, body=body, headers=hdr)
        r = conn.getresponse()
        r.read()
        if r.status // 100 != 2:
            print("send: %s%s answered %d" % (u.path, ep, r.status), file=sys.stderr)
            return 1
        n += 1
    conn.close()
    return 0


def cmd_send(prefix, path, count, skip="0"):
    count, skip = int(count), int(skip)

    def gen():
        for i, rec in enumerate(read_records(path)):
            if i >= skip + count:
                return
            if i >= skip:
                yield rec
    return post_all(prefix, gen())


def cmd_send_kind(prefix, kind, count, base, np_key, sp_secret):
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    import gen
    import time
    ts = int(time.time())
    reqs = []
    for i in range(int(base), int(base) + int(count)):
        if kind == "nicepay-paid":
            tid = "nictest2m0101%015d" % i
            reqs.append(("nicepay", {"Content-Type": "application/json;charset=utf-8"},
                         gen.np_body(i, tid, "shop-%d" % i, "paid", np_key)))
        elif kind == "steppay-order":
            ep, hdr, body = gen.sp_request(gen.sp_order(i, 100000 + i, False, ts), sp_secret, ts)
            reqs.append((ep, dict(hdr), body))
        else:
            print("send-kind: unknown kind " + kind, file=sys.stderr)
            return 2
    sizes = sorted(len(r[2]) for r in reqs)
    print("bytes=%d" % sizes[len(sizes) // 2])
    return post_all(prefix, reqs)


PARAM_RE = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


def cmd_capture(pglog, function, out_sql, out_vars, prefix, *tokens):
    text = open(pglog, encoding="utf-8", errors="replace").read()
    stmt = params = None
    # "execute <unnamed>: SELECT ..." then "DETAIL:  parameters: $1 = '...', ..."
    for m in re.finditer(r"execute <unnamed>: (SELECT [^\n]*FROM " + re.escape(function) +
                         r"\(ROW\([^\n]*)\n[^\n]*DETAIL:  parameters: ([^\n]*)", text):
        stmt, params = m.group(1), m.group(2)
    if stmt is None:
        print("capture: no call of %s in %s" % (function, pglog), file=sys.stderr)
        return 1
    vals = {}
    for m in PARAM_RE.finditer(params):
        v = m.group(2)
        vals[int(m.group(1))] = None if v == "NULL" else v[1:-1].replace("''", "'")
    sha = vals.get(5)  # body_sha256 (store.c: P_BODY_SHA256 is the 5th)
    tokens = sorted(tokens, key=len, reverse=True)

    def unique(v):
        """The first token in v, or None."""
        for t in tokens:
            if t in v:
                return t
        return None

    def expr(n):
        v = vals.get(n)
        name = ":%s_%d" % (prefix, n)
        if v is None:
            return "NULL"
        if v == sha:
            return "lpad(to_hex(:k::bigint), 64, '0')"
        t = unique(v) if n != 7 else None   # $7 is the payload: kept as it is
        if t is not None:
            pre, post = v.split(t, 1)
            return "(%s:k::text%s)" % (_sql_literal(pre) + " || " if pre else "",
                                       " || " + _sql_literal(post) if post else "")
        return name

    def sub(m):
        return expr(int(m.group(1)))
    sql = re.sub(r"\$(\d+)", sub, stmt)
    with open(out_sql, "w") as f:
        f.write("\\set k random(1, 999999999999)\n")
        f.write(sql + ";\n")
    with open(out_vars, "w") as f:
        for n, v in sorted(vals.items()):
            if v is None or v == sha or (n != 7 and unique(v) is not None):
                continue
            if "\n" in v:
                print("capture: parameter $%d has a newline" % n, file=sys.stderr)
                return 1
            f.write("%s_%d=%s\n" % (prefix, n, v))
    return 0


def _sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


def percentile(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def cmd_pgbench_pct(*files):
    lat = []
    for pat in files:
        for fn in glob.glob(pat):
            with open(fn) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        lat.append(int(parts[2]) / 1000.0)
    lat.sort()
    print("p50_ms=%.3f p99_ms=%.3f max_ms=%.3f" % (
        percentile(lat, 50), percentile(lat, 99), lat[-1] if lat else 0.0))
    return 0


def cmd_report(tsv, out_md, out_dat):
    rows = {}
    meta = []
    order = []
    with open(tsv) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                meta.append(line[1:].strip())
                continue
            kv = dict(x.split("=", 1) for x in line.split("\t") if "=" in x)
            key = (kv["what"], int(kv["c"]))
            rows[key] = kv
            if kv["what"] not in order:
                order.append(kv["what"])
    levels = sorted({c for (_, c) in rows})

    def get(what, c, field="rps"):
        r = rows.get((what, c))
        if r is None or field not in r:
            return None
        try:
            v = float(r[field])
        except ValueError:
            return None
        # wrk's percentiles come out as 0 when a run has too few samples
        # (a few slow CGI requests): no value rather than a wrong one.
        if field in ("p50_ms", "p99_ms") and v == 0 and (
                (get(what, c, "max_ms") or 0) > 0 or not get(what, c)):
            return None
        if field == "max_ms" and v == 0 and not get(what, c):
            return None
        return v

    def fmt(v, nd=0):
        return "—" if v is None else ("%.*f" % (nd, v))

    def ratio(a, b):
        return "—" if a is None or not b else "%.2f" % (a / b)

    out = []
    out.append("| conc. | payhook req/s | p50 ms | p99 ms | max ms | non-2xx | sock. err | "
               "ceiling simple tps | ceiling one-stmt tps | PHP-FPM req/s | "
               "payhook ÷ simple | payhook ÷ one-stmt | payhook ÷ PHP |")
    out.append("|" + "---|" * 13)
    for c in levels:
        p = get("payhook-fcgi", c)
        if p is None and get("ceiling-simple", c) is None:
            continue
        out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c, fmt(p), fmt(get("payhook-fcgi", c, "p50_ms"), 2),
            fmt(get("payhook-fcgi", c, "p99_ms"), 2), fmt(get("payhook-fcgi", c, "max_ms"), 1),
            fmt(get("payhook-fcgi", c, "non2xx")), fmt(get("payhook-fcgi", c, "sockerr")),
            fmt(get("ceiling-simple", c)), fmt(get("ceiling-payhook-sql", c)),
            fmt(get("php-fpm", c)),
            ratio(p, get("ceiling-simple", c)), ratio(p, get("ceiling-payhook-sql", c)),
            ratio(p, get("php-fpm", c))))
    # Everything else, one line per (what, c).
    out.append("")
    out.append("| run | conc. | req/s (tps) | p50 ms | p99 ms | max ms | non-2xx | sock. err | "
               "stored | dup. share | note |")
    out.append("|" + "---|" * 11)
    for what in order:
        for c in levels:
            r = rows.get((what, c))
            if r is None:
                continue
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                what, c, fmt(get(what, c)), fmt(get(what, c, "p50_ms"), 2),
                fmt(get(what, c, "p99_ms"), 2), fmt(get(what, c, "max_ms"), 1),
                fmt(get(what, c, "non2xx")), fmt(get(what, c, "sockerr")),
                r.get("stored", "—"), r.get("dup", "—"), r.get("note", "")))
    # Targets.
    tg = []

    def best(what):
        v = [(get(what, c) or 0, c) for c in levels if get(what, c) is not None]
        return max(v) if v else (None, None)
    for c in (16, 32):
        p = get("payhook-fcgi", c)
        s = get("ceiling-simple", c)
        o = get("ceiling-payhook-sql", c)
        php = get("php-fpm", c)
        if p is not None and s:
            tg.append("- c=%d: payhook ÷ simple ceiling = %s (target ≥ 0.90: %s); "
                      "÷ one-statement ceiling = %s; ÷ PHP-FPM = %s (target ≥ 2: %s)" % (
                          c, ratio(p, s), "met" if p / s >= 0.9 else "NOT met", ratio(p, o),
                          ratio(p, php), "met" if php and p / php >= 2 else "NOT met"))
    peak, peak_c = best("payhook-fcgi")
    if peak:
        half = [(get("payhook-fcgi", c), c) for c in levels
                if get("payhook-fcgi", c) is not None and get("payhook-fcgi", c) <= peak / 2]
        if half:
            v, c = max(half)
            p99 = get("payhook-fcgi", c, "p99_ms")
            tg.append("- peak %.0f req/s at c=%d; at c=%d (%.0f req/s, ≤ half the peak) p99 = %.2f ms "
                      "(target ≤ 5 ms: %s)" % (peak, peak_c, c, v, p99, "met" if p99 <= 5 else "NOT met"))
        else:
            tg.append("- peak %.0f req/s at c=%d; no level ran at ≤ half of it (closed loop): "
                      "p99 at c=1 = %s ms" % (peak, peak_c, fmt(get("payhook-fcgi", 1, "p99_ms"), 2)))
        errs = sum((get("payhook-fcgi", c, "non2xx") or 0) + (get("payhook-fcgi", c, "sockerr") or 0)
                   for c in levels)
        tg.append("- payhook FastCGI errors (non-2xx + socket) over all levels: %d (target 0)" % errs)
    for c in levels:
        a, b = get("payhook-cgi", c), get("php-cgi", c)
        if a is not None and b:
            tg.append("- plain CGI, c=%d: payhook %.0f req/s ÷ php-cgi %.0f = %.2f (target ≥ 2); "
                      "payhook CGI through PgBouncer: %s req/s" % (
                          c, a, b, a / b, fmt(get("payhook-cgi-pgbouncer", c))))
    md = "\n".join(meta and ["- " + m for m in meta] or []) + "\n\n" + "\n".join(out) + "\n"
    if tg:
        md += "\nTargets of the issue, from this run:\n\n" + "\n".join(tg) + "\n"
    with open(out_md, "w") as f:
        f.write(md)
    with open(out_dat, "w") as f:
        f.write("# c payhook-fcgi ceiling-simple ceiling-payhook-sql php-fpm payhook-pgbouncer\n")
        for c in levels:
            f.write("%d %s\n" % (c, " ".join(
                fmt(get(w, c)) if get(w, c) is not None else "NaN"
                for w in ("payhook-fcgi", "ceiling-simple", "ceiling-payhook-sql", "php-fpm",
                          "payhook-fcgi-pgbouncer"))))
    sys.stdout.write(md)
    return 0


def main():
    cmds = {"send": cmd_send, "send-kind": cmd_send_kind, "capture": cmd_capture,
            "pgbench-pct": cmd_pgbench_pct, "report": cmd_report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
