# The fake provider API (tests/fake-provider/fake-provider.py) for one
# test script (sourced by bash after tap.sh).
#
#   fake_start DIR     starts it with fixtures in DIR/fixtures (created,
#                      with steppay/{orders,subscriptions,receipts} and
#                      nicepay/payments); sets FAKE_URL. Its secrets come
#                      from FAKE_STEPPAY_TOKEN, FAKE_NICEPAY_CLIENT and
#                      FAKE_NICEPAY_SECRET in the environment.
#   fake_control JSON  sets the faults and the sample mode (see the script)
#   fake_count PATH    how many requests PATH got
#   fake_samples       the sample notifications sent, as JSON
#   fake_steppay_objects FIXTURES
#                      StepPay's answers for order 90417, subscription
#                      4021 and the receipt of payment pay_880231, as its
#                      REST API names them (orderedProductName, customer{})
#
# Stopped on exit (ph_on_exit).

FAKE_URL=
FAKE_PID=

fake_start() {
	local dir=$1 i
	mkdir -p "$dir/fixtures/steppay/orders" "$dir/fixtures/steppay/subscriptions" \
		"$dir/fixtures/steppay/receipts" "$dir/fixtures/nicepay/payments"
	rm -f "$dir/fake-port"
	(ph_close_fds; exec python3 "$top_srcdir/tests/fake-provider/fake-provider.py" \
		--fixtures "$dir/fixtures" --port-file "$dir/fake-port" \
		>"$dir/fake.log" 2>&1) &
	FAKE_PID=$!
	ph_on_exit fake_stop
	for i in $(seq 1 100); do
		[ -s "$dir/fake-port" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$dir/fake-port" ] || bail_out "fake provider did not start: $(cat "$dir/fake.log")"
	FAKE_URL="http://127.0.0.1:$(cat "$dir/fake-port")"
}

fake_stop() {
	[ -n "$FAKE_PID" ] || return 0
	kill "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" 2>/dev/null || true
	FAKE_PID=
}

fake_control() {
	curl -q -sS --noproxy '*' --max-time 5 -H 'Content-Type: application/json' \
		--data-binary "$1" "$FAKE_URL/_control" >/dev/null
}

fake_count() {
	curl -q -sS --noproxy '*' --max-time 5 "$FAKE_URL/_requests" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["count"].get(sys.argv[1], 0))' "$1"
}

fake_samples() {
	curl -q -sS --noproxy '*' --max-time 5 "$FAKE_URL/_requests" |
		python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["samples"]))'
}

fake_steppay_objects() { # FIXTURES
	cat > "$1/steppay/orders/90417.json" <<'JSON'
{"id": 90417, "orderId": 90417, "code": "order_Q7wXk2LmP", "orderCode": "order_Q7wXk2LmP",
 "type": "RECURRING", "paidAmount": 32000.0, "returnedAmount": 0.0, "leftAmount": 32000.0,
 "discountedAmount": 0.0, "productName": "월간 원두 구독 (스탠다드 플랜)",
 "paymentDate": "2024-06-12T23:59:41.208351", "paymentDueDate": null,
 "createdAt": "2024-06-12T23:59:38.77102", "modifiedAt": "2024-06-12T23:59:41.30517",
 "idKey": "1718236778771Vd8sKq2LmZ0pR4tN", "invoiceId": null,
 "customer": {"id": 24817, "name": "김서연", "email": "seoyeon@example.com"},
 "items": [
  {"id": 131552, "code": "order_item_h3Tz9QpLw", "type": "SKU", "status": "PAID",
   "paidAmount": 29000.0, "currency": "KRW", "quantity": 1,
   "orderedProductName": "월간 원두 구독", "orderedPlanName": "스탠다드 플랜",
   "orderedProductType": "BOX", "createdAt": "2024-06-12T23:59:38.802114"},
  {"id": 131553, "code": "order_item_Wm2Rb8YtK", "type": "SHIPPING", "status": "PAID",
   "paidAmount": 3000.0, "currency": "KRW", "quantity": 1, "orderedProductName": "배송비"}]}
JSON
	cat > "$1/steppay/subscriptions/4021.json" <<'JSON'
{"id": 4021, "status": "PAUSE", "interval": "MONTH", "intervalCount": 1,
 "customer": {"id": 24817}, "parentOrder": {"id": 90001},
 "startDate": "2024-01-12T10:00:00", "lastPaymentDate": "2024-06-12T23:59:41",
 "nextPaymentDate": "2024-07-12T23:59:41",
 "items": [{"id": 5001, "productName": "월간 원두 구독", "quantity": 1, "price": 29000}]}
JSON
	cat > "$1/steppay/receipts/1718236799412aB3dE5fG7hJ9kL1m.json" <<'JSON'
{"paymentId": "pay_880231", "idKey": "1718236799412aB3dE5fG7hJ9kL1m", "orderId": "880231",
 "paymentStatus": "COMPLETE", "paymentDate": "2024-06-13T00:00:05", "amount": 15000}
JSON
}
