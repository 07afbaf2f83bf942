#!/usr/bin/env python3
"""A stand-in for the StepPay and NicePay APIs, for payhook's tests.

Plain HTTP on 127.0.0.1, a free port chosen by the system and written to
--port-file once the server listens. Standard library only.

StepPay (header Secret-Token must equal $FAKE_STEPPAY_TOKEN):
    GET /api/v1/orders/{id}          FIXTURES/steppay/orders/{id}.json
    GET /api/v1/subscriptions/{id}   FIXTURES/steppay/subscriptions/{id}.json
    GET /api/payment/receipt/{idKey} FIXTURES/steppay/receipts/{idKey}.json
    GET /api/v1/orders?startDate=&endDate=&page=&size=
                                     the orders whose createdAt (else
                                     paymentDate) falls in the dates, as a
                                     page {content, number, size,
                                     totalPages, totalElements, last}
  unknown id: 404 {traceId, errorCode, errorMessage, details}.

NicePay (Authorization: Basic base64($FAKE_NICEPAY_CLIENT:$FAKE_NICEPAY_SECRET)):
    GET  /v1/payments/{tid}          FIXTURES/nicepay/payments/{tid}.json
                                     (resultCode 0000 added); unknown tid:
                                     U107, as is the sample's tid
    POST /v1/webhook                 {method, url, managerEmail}
    GET  /v1/webhook
    POST /v1/webhook/{method}/update {url, managerEmail}
    POST /v1/webhook/{method}/delete
  Register and update first POST a sample notification for the method to
  the URL and refuse (U336/U337/U338) unless the reply is 200 and exactly
  "OK", as NicePay does.

Fixtures are read at each request, so a test writes them whenever it likes.
Secrets come from the environment, never from the command line.

Test control (no authentication, loopback only):
    POST /_control  {"faults": [FAULT...], "sample": MODE}  replaces both
        FAULT: {"path": PREFIX, "mode": M, "times": N (default: always),
                "retry_after": S, "delay": S, "code": C, "msg": T}
        M: "500", "429" (Retry-After: retry_after), "slow" (sleeps delay
           seconds before answering), "badjson", "resultcode" (HTTP 200,
           resultCode code / errorCode code)
        MODE (the registration sample): "wrongkey" (default: signed with a
           key the merchant does not have), "unsigned", "signed" (with the
           merchant's first secret key), "console" (UTWEBHOOK tid, empty
           status and payMethod, as the console's TEST button)
    GET  /_requests  {"count": {PATH: N}, "samples": [{url, status, body}]}
"""

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

METHODS = ("card", "bank", "vbank", "cellphone")
SAMPLE_TID = "nictest00m0101991231235959s001"
CONSOLE_TID = "UTWEBHOOKm05012609082226211306"
NOT_MERCHANT_KEY = "0000000000000000fakeproviderkey"

lock = threading.Lock()
state = {"faults": [], "sample": "wrongkey", "count": {}, "samples": [], "hooks": {}}


def sign(tid, amount, edi_date, key):
    return hashlib.sha256((tid + str(amount) + edi_date + key).encode()).hexdigest()


def sample_notification(method, mode):
    """A dummy payment notification for method, like NicePay's URL check."""
    edi = "2099-12-31T23:59:59.000+0900"
    body = {
        "resultCode": "0000", "resultMsg": "정상 처리되었습니다.",
        "tid": SAMPLE_TID, "cancelledTid": None, "orderId": "sample-order-0001",
        "ediDate": edi, "signature": None, "status": "paid",
        "paidAt": edi, "failedAt": "0", "cancelledAt": "0",
        "payMethod": method if method != "bank" else "bank",
        "amount": 1004, "balanceAmt": 1004, "goodsName": "sample",
        "mallReserved": None, "useEscrow": False, "currency": "KRW",
        "channel": "pc", "approveNo": "00000000", "buyerName": "sample",
        "buyerTel": "01000000000", "buyerEmail": "sample@example.invalid",
        "issuedCashReceipt": False, "receiptUrl": "https://example.invalid/r",
        "mallUserId": None, "coupon": None, "card": None, "bank": None,
        "vbank": None, "cancels": None, "cashReceipts": None,
    }
    if method == "vbank":
        body["status"] = "ready"
        body["paidAt"] = "0"
        body["vbank"] = {"vbankCode": "004", "vbankName": "국민",
                         "vbankNumber": "00000000000000", "vbankExpDate": edi,
                         "vbankHolder": "sample"}
    if method == "card":
        body["card"] = {"cardCode": "06", "cardName": "신한", "cardNum": "000000******0000",
                        "cardQuota": "0", "isInterestFree": False, "cardType": "credit",
                        "canPartCancel": "true", "acquCardCode": "06", "acquCardName": "신한"}
    if mode == "console":
        body.update(tid=CONSOLE_TID, status="", payMethod="", amount=10000,
                    balanceAmt=10000, orderId="1234567890", resultMsg="")
        body["signature"] = sign(CONSOLE_TID, 10000, edi, NOT_MERCHANT_KEY)
    elif mode == "unsigned":
        body["signature"] = None
    elif mode == "signed":
        key = os.environ.get("FAKE_NICEPAY_SECRET", "").split(",")[0].strip()
        body["signature"] = sign(body["tid"], body["amount"], edi, key)
    else:
        body["signature"] = sign(body["tid"], body["amount"], edi, NOT_MERCHANT_KEY)
    return body


def probe(url, method, mode):
    """Sends the sample; returns None when the URL answered OK, else (code, msg)."""
    data = json.dumps(sample_notification(method, mode), ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json;charset=utf-8"})
    status, body = None, b""
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body = r.status, r.read(4096)
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read(4096)
    except Exception as e:  # unreachable, refused, timeout
        with lock:
            state["samples"].append({"url": url, "status": None, "body": str(e)})
        return ("U336", "웹훅 URL 요청에 실패했습니다. (%s)" % type(e).__name__)
    with lock:
        state["samples"].append({"url": url, "status": status,
                                 "body": body.decode("utf-8", "replace")})
    if status != 200:
        return ("U337", "웹훅 URL 응답 HTTP 상태가 200이 아닙니다. (%d)" % status)
    if body != b"OK":
        return ("U338", "웹훅 URL 응답 본문에는 OK만 포함되어야 합니다.")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider"

    def log_message(self, fmt, *args):  # the test reads /_requests instead
        pass

    # -- replies --------------------------------------------------------
    def send(self, status, obj=None, raw=None, headers=()):
        body = raw if raw is not None else json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def steppay_error(self, status, code, msg):
        self.send(status, {"traceId": "fake-trace", "errorCode": code,
                           "errorMessage": msg, "details": None})

    def nicepay_result(self, code, msg, status=200, **extra):
        obj = {"resultCode": code, "resultMsg": msg, "messageSource": "nicepay"}
        obj.update(extra)
        self.send(status, obj)

    # -- helpers --------------------------------------------------------
    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            return json.loads(raw.decode()) if raw else {}
        except ValueError:
            return None

    def fault(self, path):
        """Applies the first matching fault; True when it answered."""
        with lock:
            f = None
            for cand in state["faults"]:
                if path.startswith(cand.get("path", "")) and cand.get("times", 1) != 0:
                    f = cand
                    if "times" in f:
                        f["times"] -= 1
                    break
        if f is None:
            return False
        mode = f.get("mode")
        nicepay = path.startswith("/v1/")
        if mode == "slow":
            time.sleep(float(f.get("delay", 5)))
            return False      # then answers normally, too late for the client
        if mode == "500":
            self.send(500, raw=b"<html>internal error</html>")
        elif mode == "429":
            self.send(429, {"errorCode": "TOO_MANY_REQUESTS", "errorMessage": "slow down"},
                      headers=[("Retry-After", str(f.get("retry_after", 1)))])
        elif mode == "badjson":
            self.send(200, raw=b'{"id": 1, "paidAmount": ')
        elif mode == "resultcode":
            if nicepay:
                self.nicepay_result(f.get("code", "U104"), f.get("msg", "인증에 실패했습니다."))
            else:
                self.steppay_error(int(f.get("status", 400)), f.get("code", "BAD_REQUEST"),
                                   f.get("msg", "bad request"))
        else:
            return False
        return True

    def fixture(self, *parts):
        path = os.path.join(self.server.fixtures, *parts)
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None

    def steppay_auth(self):
        want = os.environ.get("FAKE_STEPPAY_TOKEN", "")
        if not want or self.headers.get("Secret-Token") != want:
            self.steppay_error(401, "UNAUTHORIZED", "invalid Secret-Token")
            return False
        return True

    def nicepay_auth(self):
        cred = "%s:%s" % (os.environ.get("FAKE_NICEPAY_CLIENT", ""),
                          os.environ.get("FAKE_NICEPAY_SECRET", "").split(",")[0].strip())
        want = "Basic " + base64.b64encode(cred.encode()).decode()
        if self.headers.get("Authorization") != want:
            self.nicepay_result("U104", "인증에 실패했습니다.", status=401)
            return False
        return True

    def count(self, path):
        with lock:
            state["count"][path] = state["count"].get(path, 0) + 1

    def urls(self):
        with lock:
            return [dict(method=m, **v) for m, v in sorted(state["hooks"].items())]

    # -- routes ---------------------------------------------------------
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/_requests":
            with lock:
                self.send(200, {"count": state["count"], "samples": state["samples"]})
            return
        self.count(path)
        if self.fault(path):
            return
        if path == "/api/v1/orders":
            if self.steppay_auth():
                self.order_list()
            return
        m = re.fullmatch(r"/api/v1/(orders|subscriptions)/([^/]+)", path)
        r = re.fullmatch(r"/api/payment/receipt/([^/]+)", path)
        if m or r:
            if not self.steppay_auth():
                return
            kind, key = (m.group(1), m.group(2)) if m else ("receipts", r.group(1))
            obj = self.fixture("steppay", kind, key + ".json")
            if obj is None:
                self.steppay_error(404, "NOT_FOUND", "%s %s not found" % (kind, key))
            else:
                self.send(200, obj)
            return
        m = re.fullmatch(r"/v1/payments/([^/]+)", path)
        if m:
            if not self.nicepay_auth():
                return
            obj = None if m.group(1) in (SAMPLE_TID, CONSOLE_TID) else \
                self.fixture("nicepay", "payments", m.group(1) + ".json")
            if obj is None:
                self.nicepay_result("U107", "거래 내역이 존재하지 않습니다.")
            else:
                obj = dict(obj)
                obj.setdefault("resultCode", "0000")
                self.send(200, obj)
            return
        if path == "/v1/webhook":
            if self.nicepay_auth():
                self.nicepay_result("0000", "정상 처리되었습니다.", urls=self.urls())
            return
        self.send(404, {"error": "no such path"})

    def order_list(self):
        q = urllib.parse.parse_qs(self.path.split("?", 1)[1] if "?" in self.path else "")
        start = q.get("startDate", [""])[0]
        end = q.get("endDate", [""])[0]
        page = int(q.get("page", ["0"])[0])
        size = int(q.get("size", ["20"])[0])
        d = os.path.join(self.server.fixtures, "steppay", "orders")
        orders = []
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), encoding="utf-8") as fh:
                o = json.load(fh)
            day = (o.get("createdAt") or o.get("paymentDate") or "")[:10]
            if (not start or day >= start) and (not end or day <= end):
                orders.append(o)
        chunk = orders[page * size:(page + 1) * size]
        pages = (len(orders) + size - 1) // size
        self.send(200, {"content": chunk, "number": page, "size": size,
                        "totalPages": pages, "totalElements": len(orders),
                        "last": page + 1 >= pages})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path == "/_control":
            body = self.body_json() or {}
            with lock:
                state["faults"] = body.get("faults", [])
                state["sample"] = body.get("sample", "wrongkey")
            self.send(200, {"ok": True})
            return
        self.count(path)
        body = self.body_json()
        if self.fault(path):
            return
        m = re.fullmatch(r"/v1/webhook(?:/([^/]+)/(update|delete))?", path)
        if not m:
            self.send(404, {"error": "no such path"})
            return
        if not self.nicepay_auth():
            return
        if body is None:
            self.nicepay_result("U125", "잘못된 요청입니다.")
            return
        method = m.group(1) or body.get("method")
        action = m.group(2) or "register"
        if method not in METHODS:
            self.nicepay_result("U100", "필수 항목 누락: method")
            return
        with lock:
            known = method in state["hooks"]
            mode = state["sample"]
        if action == "delete":
            if not known:
                self.nicepay_result("U334", "등록된 웹훅 URL이 없습니다.")
                return
            with lock:
                del state["hooks"][method]
            self.nicepay_result("0000", "정상 처리되었습니다.", urls=self.urls())
            return
        url = body.get("url")
        if not isinstance(url, str) or not url:
            self.nicepay_result("U100", "필수 항목 누락: url")
            return
        if len(url) > 200:
            self.nicepay_result("U105", "url 길이 초과")
            return
        if action == "register" and known:
            self.nicepay_result("U333", "이미 등록된 웹훅 URL이 있습니다.")
            return
        if action == "update" and not known:
            self.nicepay_result("U334", "웹훅 URL 수정에 실패했습니다.")
            return
        refused = probe(url, method, mode)
        if refused:
            self.nicepay_result(*refused)
            return
        with lock:
            state["hooks"][method] = {"url": url,
                                      "managerEmail": body.get("managerEmail") or ""}
        self.nicepay_result("0000", "정상 처리되었습니다.", urls=self.urls())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.fixtures = args.fixtures
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
