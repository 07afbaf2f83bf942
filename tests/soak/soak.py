#!/usr/bin/python3
"""The soak test's deliveries: made, sent, and matched (run by tests/soak/run).

    soak.py gen OUT N [--seed S]
        writes N signed deliveries to OUT, one JSON object a line:
        {"i", "ep", "ct", "sig", "body", "sha", "obj"}. Secrets come from
        the environment (PH_SOAK_V2_SECRET, PH_SOAK_NP_KEY), never argv.
    soak.py send IN RESULTS --url URL [--concurrency C] [--duration D]
        sends IN's deliveries in its order with C threads (a connection
        per delivery), delivery i not before start + i*D/N seconds, and
        writes "i status time" to RESULTS (status 0: no HTTP answer; time
        when the answer came, seconds since the epoch). With --only-failed
        FIRST it sends only the deliveries FIRST has not seen answered 200
        (a provider's resend). The
        StepPay v1 token comes from PH_SOAK_V1_TOKEN. The number sent so far
        goes to RESULTS.progress now and then.
    soak.py acked IN OUT RESULTS...
        writes "sha<TAB>endpoint" of every delivery answered 200 to OUT
        (the last RESULTS that has a delivery decides).
    soak.py v1objs IN RESULTS...
        prints "table<TAB>key" of every StepPay v1 object some 200-answered
        delivery named, once each.

The mix: NicePay card payments (paid, and for a third of them a full cancel
of the same tid later in the stream), StepPay v2 orders (three snapshots
each: created, updated, payment_completed, with later modifiedAt),
subscriptions (two snapshots, ACTIVE then PAUSE, later envelope timestamp)
and payments; StepPay v1 subscription and order notices with ids of their
own. The snapshots of one object are shuffled and spread over the next 40
deliveries, so they often arrive out of order. About 10 % of the
deliveries are exact re-deliveries (same bytes, same signature) of one of
the last 1,000.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import gen as bench  # noqa: E402  the benchmark's realistic bodies

V1_BASE = 9100000000  # StepPay v1 ids: a range of their own (no v2 state there)


def body_json(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def v2_record(obj, secret, ts):
    body = body_json(obj)
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body.encode(), hashlib.sha256).digest()
    return {"ep": "steppay-v2", "ct": "application/json",
            "sig": "timestamp=%d,key=%s" % (ts, base64.b64encode(mac).decode()), "body": body}


def gen(args):
    secret = os.environ["PH_SOAK_V2_SECRET"]
    np_key = os.environ["PH_SOAK_NP_KEY"]
    rnd = random.Random(args.seed)
    n = args.n
    ts0 = 1795000000
    keyed = []  # (position key, record)
    obj = 0
    while len(keyed) < n:
        obj += 1
        base = len(keyed)
        recs = []
        r = rnd.random()
        if r < 0.30:  # NicePay payment, sometimes cancelled later
            tid = "nictest2m0101%012da" % obj
            oid = "soak-np-%d" % obj
            recs.append({"ep": "nicepay", "ct": "application/json;charset=utf-8", "sig": None,
                         "body": bench.np_body(obj, tid, oid, "paid", np_key).decode()})
            if rnd.random() < 0.35:
                recs.append({"ep": "nicepay", "ct": "application/json;charset=utf-8", "sig": None,
                             "body": bench.np_body(obj, tid, oid, "cancelled", np_key).decode()})
        elif r < 0.55:  # StepPay v2 order, three snapshots
            for k, ev in enumerate(("order.created", "order.updated", "order.payment_completed")):
                o = bench.sp_order(obj, obj, k == 2, ts0 + obj * 100 + k)
                m = bench.sp_time(obj, 10 * k)
                o["event"] = ev
                o["data"]["modifiedAt"] = m
                for it in o["data"]["items"]:
                    it["modifiedAt"] = m
                if k == 1:
                    o["data"]["productName"] = "드립백 세트 (변경 %d)" % obj
                recs.append(v2_record(o, secret, o["timestamp"]))
        elif r < 0.72:  # StepPay v2 subscription, two snapshots
            for k, st in enumerate(("ACTIVE", "PAUSE")):
                ts = ts0 + obj * 100 + 10 * k
                s = bench.sp_subscription(obj, 400000 + obj, ts)
                s["event"] = "subscription.created" if k == 0 else "subscription.updated"
                s["data"]["status"] = st
                recs.append(v2_record(s, secret, ts))
        elif r < 0.85:  # StepPay v2 payment
            ts = ts0 + obj * 100
            recs.append(v2_record(bench.sp_payment(obj, 600000 + obj, ts), secret, ts))
        else:  # StepPay v1 notices: arrival order only
            if rnd.random() < 0.6:
                sid = V1_BASE + obj
                for st in ("ACTIVE", "PAUSE"):
                    recs.append({"ep": "steppay-v1", "ct": "application/json", "sig": None,
                                 "body": body_json({"id": sid, "status": st}),
                                 "obj": ["subscriptions", str(sid)]})
            else:
                oid = V1_BASE + obj
                recs.append({"ep": "steppay-v1", "ct": "application/json", "sig": None,
                             "body": body_json({"webHookType": "PAYMENT", "orderId": oid}),
                             "obj": ["orders", str(oid)]})
        rnd.shuffle(recs)
        for rec in recs:
            keyed.append((base + rnd.random() * 40, rec))
    keyed.sort(key=lambda kr: kr[0])
    stream = []
    src = iter(kr[1] for kr in keyed)
    while len(stream) < n:
        if len(stream) > 10 and rnd.random() < 0.10:
            stream.append(stream[rnd.randrange(max(0, len(stream) - 1000), len(stream))])
        else:
            stream.append(next(src))
    with open(args.out, "w", encoding="utf-8") as f:
        for i, rec in enumerate(stream):
            line = dict(rec)
            line["i"] = i
            line["sha"] = hashlib.sha256(rec["body"].encode()).hexdigest()
            line.setdefault("obj", None)
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    eps = {}
    for rec in stream:
        eps[rec["ep"]] = eps.get(rec["ep"], 0) + 1
    print("generated %d deliveries: %s" % (n, ", ".join("%s %d" % kv for kv in sorted(eps.items()))),
          file=sys.stderr)


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def send(args):
    recs = load(args.input)
    if args.only_failed:
        first = results(args.only_failed)
        recs = [r for r in recs if first.get(r["i"]) != 200]
    n = len(recs)
    u = urllib.parse.urlsplit(args.url)
    token = urllib.parse.quote(os.environ.get("PH_SOAK_V1_TOKEN", ""), safe="")
    lock = threading.Lock()
    state = {"next": 0, "done": 0}
    status = [None] * n
    when = [0.0] * n
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                i = state["next"]
                if i >= n:
                    break
                state["next"] = i + 1
            if args.duration > 0:
                delay = t0 + i * args.duration / n - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            rec = recs[i]
            path = "/" + rec["ep"] + ("?token=" + token if rec["ep"] == "steppay-v1" else "")
            headers = {"Content-Type": rec["ct"]}
            if rec["sig"]:
                headers["Steppay-Signature"] = rec["sig"]
            headers["Connection"] = "close"
            # One connection per delivery, as a provider does; no answer
            # (connection refused, reset, timed out) is status 0.
            st = 0
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=args.timeout)
            try:
                conn.request("POST", path, body=rec["body"].encode(), headers=headers)
                resp = conn.getresponse()
                resp.read()
                st = resp.status
            except (OSError, http.client.HTTPException):
                st = 0
            finally:
                conn.close()
            status[i] = st
            when[i] = time.time()
            with lock:
                state["done"] += 1
                if state["done"] % 50 == 0:
                    with open(args.results + ".progress", "w") as p:
                        p.write("%d\n" % state["done"])

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(args.results, "w") as f:
        for j, st in enumerate(status):
            f.write("%d %d %.3f\n" % (recs[j]["i"], st, when[j]))
    with open(args.results + ".progress", "w") as p:
        p.write("%d\n" % n)
    print("sent %d in %.1f s" % (n, time.monotonic() - t0), file=sys.stderr)


def results(*paths):
    """Status by delivery; a later file's (a resend's) status wins."""
    st = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                a, b = line.split()[:2]
                st[int(a)] = int(b)
    return st


def acked(args):
    recs = load(args.input)
    st = results(*args.results)
    with open(args.out, "w") as f:
        for rec in recs:
            if st.get(rec["i"]) == 200:
                f.write("%s\t%s\n" % (rec["sha"], rec["ep"]))


def v1objs(args):
    recs = load(args.input)
    st = results(*args.results)
    seen = set()
    for rec in recs:
        if rec["obj"] and st.get(rec["i"]) == 200:
            seen.add(tuple(rec["obj"]))
    for t, k in sorted(seen):
        print("%s\t%s" % (t, k))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("n", type=int)
    g.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("send")
    s.add_argument("input")
    s.add_argument("results")
    s.add_argument("--url", required=True)
    s.add_argument("--concurrency", type=int, default=8)
    s.add_argument("--duration", type=float, default=0)
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("--only-failed", metavar="RESULTS",
                   help="send only the deliveries not answered 200 in RESULTS")
    a = sub.add_parser("acked")
    a.add_argument("input")
    a.add_argument("out")
    a.add_argument("results", nargs="+")
    v = sub.add_parser("v1objs")
    v.add_argument("input")
    v.add_argument("results", nargs="+")
    args = ap.parse_args()
    {"gen": gen, "send": send, "acked": acked, "v1objs": v1objs}[args.cmd](args)


if __name__ == "__main__":
    main()
