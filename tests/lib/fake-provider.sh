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
