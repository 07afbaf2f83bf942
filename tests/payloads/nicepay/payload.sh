# Builds signed NicePay notifications for the tests (sourced by bash).
#
#   np_payload FILE [NAME=VALUE ...]
#       writes one notification to FILE: a card payment with every field
#       of providers/nicepay.md §2.2, each replaced by NAME=VALUE. VALUE
#       is JSON text: strings carry their quotes ('tid="T1"'), numbers,
#       objects and arrays do not; the value - leaves the field out. The
#       signature is hex(SHA-256(tid || amount || ediDate || NP_KEY)),
#       computed here with sha256sum from the fields as written (amount's
#       digits without quotes), unless signature= is given.
#   np_sign TID AMOUNT EDIDATE KEY
#       prints that signature.
#
# NP_KEY must be set. The values are ours, not NicePay's examples.

np_fields=(resultCode resultMsg tid cancelledTid orderId ediDate signature status
	paidAt failedAt cancelledAt payMethod amount balanceAmt goodsName mallReserved
	useEscrow currency channel approveNo buyerName buyerTel buyerEmail
	issuedCashReceipt receiptUrl mallUserId coupon card bank vbank cancels cashReceipts)

np_sign() {
	printf '%s' "$1$2$3$4" | sha256sum | cut -c1-64
}

# A JSON string's text without its quotes (our values have no escapes).
np_unquote() {
	local v=$1
	v=${v#\"}
	printf '%s' "${v%\"}"
}

np_payload() {
	local file=$1 kv name out sep f
	local -A v
	shift
	v=(
		[resultCode]='"0000"' [resultMsg]='"정상 처리되었습니다."'
		[tid]='"nictest1m0101260302101500a001"' [cancelledTid]=null
		[orderId]='"shop-2603-0001"' [ediDate]='"2026-03-02T10:15:00.481+0900"'
		[status]='"paid"' [paidAt]='"2026-03-02T10:15:00.000+0900"' [failedAt]='"0"'
		[cancelledAt]='"0"' [payMethod]='"card"' [amount]=27500 [balanceAmt]=27500
		[goodsName]='"테스트 원두 1kg"' [mallReserved]=null [useEscrow]=false
		[currency]='"KRW"' [channel]='"mobile"' [approveNo]='"70214433"'
		[buyerName]='"김테스트"' [buyerTel]='"01098765432"'
		[buyerEmail]='"buyer@shop.test"' [issuedCashReceipt]=false
		[receiptUrl]='"https://receipt.test/r/a001"' [mallUserId]='"member-42"'
		[coupon]=null
		[card]='{"cardCode":"06","cardName":"신한","cardNum":"455437******3021","cardQuota":"0","isInterestFree":false,"cardType":"credit","canPartCancel":"true","acquCardCode":"06","acquCardName":"신한"}'
		[bank]=null [vbank]=null [cancels]=null [cashReceipts]=null
	)
	for kv in "$@"; do
		name=${kv%%=*}
		v[$name]=${kv#*=}
	done
	if [ -z "${v[signature]+set}" ]; then
		v[signature]="\"$(np_sign "$(np_unquote "${v[tid]}")" "$(np_unquote "${v[amount]}")" \
			"$(np_unquote "${v[ediDate]}")" "$NP_KEY")\""
	fi
	out='{' sep=
	for f in "${np_fields[@]}"; do
		[ "${v[$f]}" != - ] || continue
		out="$out$sep\"$f\":${v[$f]}"
		sep=,
	done
	printf '%s}' "$out" >"$file"
}
