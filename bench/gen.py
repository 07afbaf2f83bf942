#!/usr/bin/python3
"""Writes a stream of realistic, signed webhook deliveries for bench/run.

    gen.py OUT COUNT --nicepay-key K --steppay-secret S [--seed N] [--dup 0.10]

OUT gets one record per request, read by bench/wrk.lua:

    <endpoint> <header-count> <body-length>\\n
    <Name>: <value>\\n            (header-count lines)
    <body bytes>\\n

endpoint is "nicepay" or "steppay-v2" (the URL prefix is the load
generator's). The mix, by kind of delivery:

    NicePay card payment, status paid                  35 %
    NicePay cancel of a tid paid earlier in the stream  10 %
    StepPay v2 order.created (two items, ~2 KB)         15 %
    StepPay v2 order.payment_completed (same order,
      later modifiedAt)                                 10 %
    StepPay v2 subscription.created                     15 %
    StepPay v2 payment.completed                        15 %

and --dup (default 10 %) of the records are exact re-deliveries (same bytes,
same signature) of one of the last 1,000 records. Every other record has
ids of its own: NicePay tid and orderId, StepPay order, subscription and
payment ids come from the record's number. Signatures as the providers
make them: NicePay hex(SHA-256(tid || amount || ediDate || key)) in the
body; StepPay "Steppay-Signature: timestamp=T,key=base64(HMAC-SHA256(
secret, T + "." + body))". A summary line goes to stderr.
"""

import argparse
import base64
import hashlib
import hmac
import json
import random
import sys
import time

NP_CARD = {"cardCode": "06", "cardName": "신한", "cardNum": "455437******3021",
           "cardQuota": "0", "isInterestFree": False, "cardType": "credit",
           "canPartCancel": "true", "acquCardCode": "06", "acquCardName": "신한"}


def np_body(i, tid, order_id, status, key, amount=27500):
    """A NicePay notification in the field order of providers/nicepay.md."""
    day = 1 + i % 28
    edi = "2026-03-%02dT10:15:%02d.%03d+0900" % (day, i % 60, i % 1000)
    cancelled = status == "cancelled"
    if cancelled:
        edi = "2026-04-%02dT09:00:%02d.%03d+0900" % (day, i % 60, i % 1000)
    sig = hashlib.sha256(("%s%d%s%s" % (tid, amount, edi, key)).encode()).hexdigest()
    d = {
        "resultCode": "0000", "resultMsg": "정상 처리되었습니다.", "tid": tid,
        "cancelledTid": ("nictest2m0101%012dk" % i) if cancelled else None,
        "orderId": order_id, "ediDate": edi, "signature": sig, "status": status,
        "paidAt": "2026-03-%02dT10:15:00.000+0900" % day, "failedAt": "0",
        "cancelledAt": ("2026-04-%02dT09:00:00.000+0900" % day) if cancelled else "0",
        "payMethod": "card", "amount": amount, "balanceAmt": 0 if cancelled else amount,
        "goodsName": "테스트 원두 1kg", "mallReserved": None, "useEscrow": False,
        "currency": "KRW", "channel": "mobile", "approveNo": "%08d" % (i % 10**8),
        "buyerName": "김테스트", "buyerTel": "01098765432", "buyerEmail": "buyer@shop.test",
        "issuedCashReceipt": False, "receiptUrl": "https://receipt.test/r/%d" % i,
        "mallUserId": "member-%d" % (i % 5000), "coupon": None, "card": NP_CARD,
        "bank": None, "vbank": None,
        "cancels": [{"tid": "nictest2m0101%012dk" % i, "amount": amount,
                     "cancelledAt": "2026-04-%02dT09:00:00.000+0900" % day,
                     "reason": "변심"}] if cancelled else None,
        "cashReceipts": None,
    }
    return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()


def sp_item(item_id, status, t):
    return {"id": item_id, "code": "order_item_%d" % item_id, "type": "SKU",
            "status": status, "createdAt": t, "modifiedAt": t, "canceledDateTime": None,
            "paidAmount": 12500.0, "currency": "KRW", "quantity": 2,
            "priceCode": "price_Lq81", "productCode": "product_Bn20", "productType": "BOX",
            "productName": "드립백 세트", "featuredImageUrl": None,
            "selectedProductOptionLabel": None, "selectedProductOptionIds": [],
            "planName": "격주 배송", "discountName": None, "relatedOrderItemId": None,
            "priceSetupType": None, "demoCycle": None, "minimumQuantity": None,
            "parentOrderItemCode": None}


def sp_time(i, minutes=0):
    s = 3 * 3600 + (i % 20000) + minutes * 60
    return "2026-11-20T%02d:%02d:%02d" % (s // 3600 % 24, s // 60 % 60, s % 60)


def sp_order(i, order_id, paid, ts):
    t = sp_time(i)
    m = sp_time(i, 10) if paid else t
    status = "PAID" if paid else "CREATED"
    data = {
        "id": order_id, "code": "order_%d" % order_id, "type": "RECURRING_INITIAL",
        "paidAmount": 25000.0 if paid else 0, "returnedAmount": 0,
        "leftAmount": 25000 if paid else 0, "discountedAmount": 0,
        "productName": "드립백 세트 (격주 배송)", "paymentDate": m if paid else None,
        "paymentDueDate": None, "createdAt": t, "modifiedAt": m, "purchaseDeadline": None,
        "idKey": "1795%09dQw7Er9Ty1Ui3Op5A" % order_id, "customerId": 50000 + order_id % 7919,
        "shipping": {"name": "한지우", "phone": "010-4417-2290", "postcode": "06236",
                     "address1": "서울 강남구 테헤란로 427", "address2": "7층",
                     "state": None, "city": "서울", "countryCode": "KR"},
        "items": [sp_item(order_id * 10 + 1, status, m), sp_item(order_id * 10 + 2, status, m)],
        "subscriptions": [40000 + order_id], "invoiceId": None,
    }
    event = "order.payment_completed" if paid else "order.created"
    return {"timestamp": ts, "version": "v1", "event": event, "data": data}


def sp_subscription(i, sub_id, ts):
    t = sp_time(i)
    data = {
        "subscriptionId": sub_id, "status": "ACTIVE", "createdAt": t, "trialPeriod": None,
        "lastPaymentDate": t, "nextPaymentDate": "2026-12-04T03:10:04",
        "originNextPaymentDate": "2026-12-04T03:10:04", "endDate": None,
        "pausedDateTime": None, "orderId": 700000 + i, "orderCode": "order_s%d" % i,
        "items": [{"subscriptionItemId": 990000 + i, "productName": "드립백 세트",
                   "featuredImageUrl": None, "selectedProductOptionIds": [], "price": 12500,
                   "quantity": 2, "isAdditional": False, "keepWhenRenew": True,
                   "maximumPurchaseQuantity": None, "productCode": "product_Bn20",
                   "priceCode": "price_Lq81", "type": "SKU", "claimMethodType": "PRE",
                   "priceType": "FLAT", "selectedOptions": []}],
        "customerId": 50000 + i % 7919, "intervalUnit": "WEEK", "intervalCount": 2,
        "paymentMethod": {"paymentGateway": "NICE_V2", "paymentInfo": "5365-****-****-1204"},
        "currentPeriod": {"startDateTime": t, "endDateTime": "2026-12-04T03:10:03"},
        "notiBeforePaymentDate": "2026-12-01T03:10:04",
    }
    return {"timestamp": ts, "version": "v1", "event": "subscription.created", "data": data}


def sp_payment(i, pay_id, ts):
    data = {
        "paymentId": pay_id, "idKey": "1795%09dPm" % pay_id, "orderId": 800000 + i,
        "customerId": 50000 + i % 7919, "payer": None, "productName": "드립백 세트",
        "paidAmount": 25000, "paidAt": sp_time(i), "status": "PAID",
        "paymentGateway": "NICEPAY", "paymentMethod": "CARD", "paymentOnly": False,
        "errorMessage": None, "cancel": None, "vBank": None, "niceCms": None,
    }
    return {"timestamp": ts, "version": "v1", "event": "payment.completed", "data": data}


def sp_request(obj, secret, ts):
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).digest()
    hdr = [("Content-Type", "application/json"),
           ("Steppay-Signature", "timestamp=%d,key=%s" % (ts, base64.b64encode(mac).decode()))]
    return ("steppay-v2", hdr, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("count", type=int)
    ap.add_argument("--nicepay-key", required=True)
    ap.add_argument("--steppay-secret", required=True)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--dup", type=float, default=0.10)
    ap.add_argument("--base", type=int, default=0, help="first record number (ids)")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    ts = int(time.time())
    recent = []          # the last records, for re-deliveries
    paid_tids = []       # NicePay tids paid so far, for cancels
    open_orders = []     # StepPay orders created so far, for payment_completed
    kinds = {}
    np_ct = [("Content-Type", "application/json;charset=utf-8")]
    with open(a.out, "wb") as f:
        for n in range(a.count):
            i = a.base + n
            if recent and rnd.random() < a.dup:
                rec = recent[rnd.randrange(len(recent))]
                kind = "duplicate"
            else:
                r = rnd.random()
                if r < 0.35:
                    tid = "nictest2m0101%015d" % i
                    rec = ("nicepay", np_ct, np_body(i, tid, "shop-%d" % i, "paid", a.nicepay_key))
                    paid_tids.append((i, tid))
                    kind = "nicepay paid"
                elif r < 0.45 and paid_tids:
                    j, tid = paid_tids.pop(rnd.randrange(len(paid_tids)))
                    rec = ("nicepay", np_ct, np_body(j, tid, "shop-%d" % j, "cancelled", a.nicepay_key))
                    kind = "nicepay cancel"
                elif r < 0.60 or (r < 0.70 and not open_orders):
                    rec = sp_request(sp_order(i, 100000 + i, False, ts), a.steppay_secret, ts)
                    open_orders.append(i)
                    kind = "steppay order.created"
                elif r < 0.70:
                    j = open_orders.pop(rnd.randrange(len(open_orders)))
                    rec = sp_request(sp_order(j, 100000 + j, True, ts + 1), a.steppay_secret, ts + 1)
                    kind = "steppay order.payment_completed"
                elif r < 0.85:
                    rec = sp_request(sp_subscription(i, 40000000 + i, ts), a.steppay_secret, ts)
                    kind = "steppay subscription.created"
                else:
                    rec = sp_request(sp_payment(i, 60000000 + i, ts), a.steppay_secret, ts)
                    kind = "steppay payment.completed"
                recent.append(rec)
                if len(recent) > 1000:
                    recent.pop(0)
                if len(paid_tids) > 5000:
                    paid_tids.pop(0)
                if len(open_orders) > 5000:
                    open_orders.pop(0)
            kinds[kind] = kinds.get(kind, 0) + 1
            ep, hdr, body = rec
            f.write(("%s %d %d\n" % (ep, len(hdr), len(body))).encode())
            for k, v in hdr:
                f.write(("%s: %s\n" % (k, v)).encode())
            f.write(body + b"\n")
    print("gen: %d records: %s" % (a.count, ", ".join(
        "%s %d" % (k, v) for k, v in sorted(kinds.items()))), file=sys.stderr)


if __name__ == "__main__":
    main()
