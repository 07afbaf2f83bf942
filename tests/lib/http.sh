# Driving a handler (sourced by bash after tap.sh).
#   cgi_run BINARY METHOD CONTENT_TYPE BODY_FILE [QUERY_STRING]
#       runs BINARY as plain CGI with a clean environment plus the
#       exported PAYHOOK_* variables; CGI_CONTENT_LENGTH overrides the
#       length (a number, any text, or "none" to leave it unset);
#       CGI_REMOTE_ADDR the client address (default 127.0.0.1);
#       HTTP_X_FORWARDED_FOR is passed on when set;
#       PH_TEST_WRAPPER (e.g. valgrind ...) is put in front of BINARY.
#       Sets CGI_STATUS, CGI_HEADERS, CGI_BODY, CGI_STDERR,
#       CGI_STDERR_FILE, CGI_EXIT.
#   http_post URL CONTENT_TYPE BODY_FILE
#       sets HTTP_STATUS and HTTP_BODY.

ph_http_dir=$(mktemp -d /tmp/payhook-http.XXXXXX)
ph_on_exit rm -rf "$ph_http_dir"

cgi_run() {
	local bin=$1 method=$2 ctype=$3 file=$4 query=${5:-} len
	local -a env=(REQUEST_METHOD="$method" QUERY_STRING="$query" GATEWAY_INTERFACE=CGI/1.1
		SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR="${CGI_REMOTE_ADDR:-127.0.0.1}"
		PATH="$PATH")
	[ -n "$ctype" ] && env+=(CONTENT_TYPE="$ctype")
	[ -n "${HTTP_X_FORWARDED_FOR:-}" ] && env+=(HTTP_X_FORWARDED_FOR="$HTTP_X_FORWARDED_FOR")
	len=${CGI_CONTENT_LENGTH:-$(wc -c < "$file")}
	[ "$len" != none ] && env+=(CONTENT_LENGTH="$len")
	while IFS= read -r var; do
		env+=("$var=${!var}")
	done < <(compgen -e | grep '^PAYHOOK_' || true)
	[ -n "${ASAN_OPTIONS:-}" ] && env+=(ASAN_OPTIONS="$ASAN_OPTIONS")
	[ -n "${UBSAN_OPTIONS:-}" ] && env+=(UBSAN_OPTIONS="$UBSAN_OPTIONS")
	CGI_STDERR_FILE="$ph_http_dir/stderr"
	set +e
	# shellcheck disable=SC2086
	env -i "${env[@]}" ${PH_TEST_WRAPPER:-} "$bin" < "$file" > "$ph_http_dir/stdout" 2> "$CGI_STDERR_FILE"
	CGI_EXIT=$?
	set -e
	CGI_STDERR=$(cat "$CGI_STDERR_FILE")
	# Headers end at the first empty line (CRLF or LF).
	CGI_HEADERS=$(sed -e 's/\r$//' -e '/^$/q' "$ph_http_dir/stdout")
	CGI_BODY=$(sed -e '1,/^\r\{0,1\}$/d' "$ph_http_dir/stdout")
	CGI_STATUS=$(printf '%s\n' "$CGI_HEADERS" | sed -n 's/^Status: \([0-9]*\).*/\1/p')
	CGI_STATUS=${CGI_STATUS:-200}
	if [ "$CGI_EXIT" != 0 ]; then
		diag "handler exited $CGI_EXIT: $CGI_STDERR"
		CGI_STATUS="exit-$CGI_EXIT"
	fi
}

http_post() {
	HTTP_STATUS=$(curl -sS -o "$ph_http_dir/http-body" -w '%{http_code}' --max-time 10 \
		-H "Content-Type: $2" --data-binary "@$3" "$1") || HTTP_STATUS=curl-failed
	HTTP_BODY=$(cat "$ph_http_dir/http-body" 2>/dev/null || true)
}
