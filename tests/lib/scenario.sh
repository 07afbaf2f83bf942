# The StepPay v2 and NicePay deliveries every hosting test sends, so that
# the state they leave can be compared across web servers (sourced by bash
# after tap.sh, pg.sh and http.sh).
#
#   scenario_prepare DIR
#       writes DIR/payhook.conf (mode 0640: the database, a StepPay v2
#       secret, a NicePay key, 127.0.0.1 allowed for NicePay) and the
#       NicePay bodies; sets SCN_DIR and SCN_CONF.
#   scenario_run cgi
#       sends every delivery as plain CGI (cgi_run) to the build tree's
#       handlers, with PAYHOOK_CONFIG=SCN_CONF in their environment.
#   scenario_run http URL_FORMAT
#       POSTs every delivery with curl to the URL printf URL_FORMAT
#       ENDPOINT gives (ENDPOINT: steppay-v2, nicepay), e.g.
#       "$APACHE_URL/cgi-bin/%s.fcgi".
#       Both set SCN_MISMATCHES (replies that differ from the expected
#       status and body; each one is also a "#" line on stdout) and
#       SCN_TRANSCRIPT (one "ENDPOINT FILE STATUS BODY" line per delivery).
#   scenario_state
#       every table of the schema payhook (but schema_migrations), one
#       line per row as JSON, without what records the time of arrival
#       (received_at, updated_at, last_received_at, sync_requested_at, stored_at).
#   scenario_reset
#       empties those tables and restarts their sequences, so that the
#       next run's rows get the same ids.
#
# The deliveries: several StepPay v2 event types (customer, product, order,
# subscription, payment, invoice, cover), a duplicate, a newer snapshot
# before an older one (stale), a forged and an unsigned one (401); NicePay
# payments with a duplicate, a cancel, a late "paid" after the cancel
# (stale), a "ready" after "paid" (stale), an unsigned failure
# (unverified), a registration sample (test) and a forged one (401).

declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"
declare -F np_payload >/dev/null || . "${BASH_SOURCE[0]%/*}/../payloads/nicepay/payload.sh"

SCN_V2_SECRET="whsec-hosting-$$"
NP_KEY="np-hosting-secret-$$"
SCN_V2=${top_srcdir:?}/tests/payloads/steppay-v2

# ENDPOINT FILE SIGNING EXPECTED_STATUS EXPECTED_BODY ("*": any body).
# SIGNING: "ok" (the right key), "forged" (a wrong key), "none".
scenario_steps() {
	local v2=$SCN_V2 np=$SCN_DIR
	cat <<STEPS
steppay-v2 $v2/customer-created.json ok 200 applied
steppay-v2 $v2/product-created.json ok 200 applied
steppay-v2 $v2/order-updated.json ok 200 applied
steppay-v2 $v2/order-created.json ok 200 stale
steppay-v2 $v2/subscription-created.json ok 200 applied
steppay-v2 $v2/subscription-created.json ok 200 duplicate
steppay-v2 $v2/subscription-updated-pause.json ok 200 applied
steppay-v2 $v2/payment-completed.json ok 200 applied
steppay-v2 $v2/payment-canceled.json ok 200 applied
steppay-v2 $v2/payment-failed.json forged 401 *
steppay-v2 $v2/payment-failed.json none 401 *
steppay-v2 $v2/invoice-created.json ok 200 applied
steppay-v2 $v2/invoice-deleted.json ok 200 applied
steppay-v2 $v2/subscription-usage-added.json ok 200 applied
steppay-v2 $v2/cover-sent-message.json ok 200 applied
nicepay $np/np-paid.json ok 200 OK
nicepay $np/np-paid.json ok 200 OK
nicepay $np/np-cancel.json ok 200 OK
nicepay $np/np-late-paid.json ok 200 OK
nicepay $np/np-vbank-paid.json ok 200 OK
nicepay $np/np-vbank-ready.json ok 200 OK
nicepay $np/np-unsigned-failed.json ok 200 OK
nicepay $np/np-empty ok 200 OK
nicepay $np/np-forged.json ok 401 *
STEPS
}

scenario_prepare() {
	local T=nictest2m0101260320090000h101 V=nictest2m0101260320093000h102
	SCN_DIR=$1
	SCN_CONF=$SCN_DIR/payhook.conf
	printf 'database = %s\nsteppay_v2_secret = %s\nnicepay_secret_key = %s\nallow_from_nicepay = 121.133.126.86/32, 121.133.126.87/32, 127.0.0.1/32, ::1/128\n' \
		"$PH_TEST_CONNINFO" "$SCN_V2_SECRET" "$NP_KEY" >"$SCN_CONF"
	chmod 0640 "$SCN_CONF"
	# Its secrets, for tests/run's scan of every handler log.
	! declare -F scan_note_env >/dev/null || scan_note_env PAYHOOK_CONFIG="$SCN_CONF"
	np_payload "$SCN_DIR/np-paid.json" tid="\"$T\"" orderId='"host-0001"' \
		ediDate='"2026-03-20T09:00:00.100+0900"'
	np_payload "$SCN_DIR/np-cancel.json" tid="\"$T\"" orderId='"host-0001"' status='"cancelled"' \
		balanceAmt=0 ediDate='"2026-03-21T09:00:00.100+0900"' \
		cancelledAt='"2026-03-21T09:00:00.000+0900"' \
		cancels='[{"tid":"nictest2m0101260321090000k201","amount":27500,"cancelledAt":"2026-03-21T09:00:00.000+0900","reason":"변심"}]'
	np_payload "$SCN_DIR/np-late-paid.json" tid="\"$T\"" orderId='"host-0001"' \
		ediDate='"2026-03-22T09:00:00.000+0900"'
	np_payload "$SCN_DIR/np-vbank-ready.json" tid="\"$V\"" orderId='"host-0002"' status='"ready"' \
		payMethod='"vbank"' paidAt='"0"' card=null ediDate='"2026-03-20T09:30:00.000+0900"' \
		vbank='{"vbankCode":"004","vbankName":"국민","vbankNumber":"12345678901234","vbankExpDate":"2026-03-23T23:59:59.000+0900","vbankHolder":"김테스트"}'
	np_payload "$SCN_DIR/np-vbank-paid.json" tid="\"$V\"" orderId='"host-0002"' \
		payMethod='"vbank"' paidAt='"2026-03-21T10:00:00.000+0900"' card=null \
		ediDate='"2026-03-21T10:00:00.000+0900"' \
		vbank='{"vbankCode":"004","vbankName":"국민","vbankNumber":"12345678901234","vbankExpDate":"2026-03-23T23:59:59.000+0900","vbankHolder":"김테스트"}'
	np_payload "$SCN_DIR/np-unsigned-failed.json" tid='"nictest2m0101260320100000h103"' \
		signature=- status='"failed"' balanceAmt=0
	: >"$SCN_DIR/np-empty"
	NP_KEY=wrong-key np_payload "$SCN_DIR/np-forged.json" tid='"nictest2m0101260320110000h104"'
}

# scenario_sign FILE SECRET: a Steppay-Signature header value.
scenario_sign() {
	steppay_v2_signature "$1" "$2"
}

# scenario_send MODE URL_FORMAT ENDPOINT FILE SIGNING: sets SCN_STATUS, SCN_BODY.
scenario_send() {
	local mode=$1 fmt=$2 ep=$3 file=$4 signing=$5 ctype sig=""
	local -a hdr=()
	case $ep in
	nicepay) ctype='application/json;charset=utf-8' ;;
	*) ctype=application/json ;;
	esac
	if [ "$ep" = steppay-v2 ]; then
		case $signing in
		ok) sig=$(scenario_sign "$file" "$SCN_V2_SECRET") ;;
		forged) sig=$(scenario_sign "$file" "not-$SCN_V2_SECRET") ;;
		esac
	fi
	if [ "$mode" = cgi ]; then
		if [ -n "$sig" ]; then
			HTTP_STEPPAY_SIGNATURE=$sig PAYHOOK_CONFIG=$SCN_CONF \
				cgi_run "$top_builddir/cgi-bin/$ep.fcgi" POST "$ctype" "$file"
		else
			PAYHOOK_CONFIG=$SCN_CONF cgi_run "$top_builddir/cgi-bin/$ep.fcgi" POST "$ctype" "$file"
		fi
		SCN_STATUS=$CGI_STATUS SCN_BODY=$CGI_BODY
	else
		[ -z "$sig" ] || hdr=(-H "Steppay-Signature: $sig")
		# shellcheck disable=SC2059 # the format is the caller's
		http_post "$(printf "$fmt" "$ep")" "$ctype" "$file" "${hdr[@]}"
		SCN_STATUS=$HTTP_STATUS SCN_BODY=$HTTP_BODY
	fi
}

scenario_run() {
	local mode=$1 fmt=${2:-} ep file signing want_status want_body
	SCN_MISMATCHES=0
	SCN_TRANSCRIPT=
	while read -r ep file signing want_status want_body; do
		scenario_send "$mode" "$fmt" "$ep" "$file" "$signing"
		SCN_TRANSCRIPT="$SCN_TRANSCRIPT$ep ${file##*/} $SCN_STATUS $SCN_BODY
"
		if [ "$SCN_STATUS" != "$want_status" ] ||
			{ [ "$want_body" != "*" ] && [ "$SCN_BODY" != "$want_body" ]; }; then
			SCN_MISMATCHES=$((SCN_MISMATCHES + 1))
			diag "$mode: $ep ${file##*/}: got '$SCN_STATUS $SCN_BODY', expected '$want_status $want_body'"
		fi
	done < <(scenario_steps)
}

# The tables, as SQL text: every table of the schema but the migrations' list.
scenario_tables() {
	psql_q "SELECT string_agg(format('payhook.%I', tablename), ', ' ORDER BY tablename)
	          FROM pg_tables WHERE schemaname = 'payhook' AND tablename <> 'schema_migrations'"
}

scenario_state() {
	local t sql="" sep=""
	for t in $(scenario_tables | tr -d ','); do
		sql="$sql${sep}SELECT '$t ' || (to_jsonb(x) - ARRAY['received_at', 'updated_at',
		    'last_received_at', 'sync_requested_at', 'stored_at'])::text AS line FROM $t x"
		sep=" UNION ALL "
	done
	psql_q "SELECT coalesce(string_agg(line, E'\n' ORDER BY line), '') FROM ($sql) s"
}

scenario_reset() {
	psql_q "TRUNCATE $(scenario_tables) RESTART IDENTITY" >/dev/null
}
