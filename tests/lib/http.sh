# Driving a handler (sourced by bash after tap.sh).
#
#   http_post URL CONTENT_TYPE BODY_FILE [CURL_ARG...]
#       POSTs BODY_FILE with curl (never through a proxy, no ~/.curlrc,
#       10 s at most). Sets HTTP_STATUS (the code; "curl-failed" when
#       curl could not get an answer), HTTP_BODY, HTTP_HEADERS (the
#       response headers, CRs removed).
#   cgi_run BINARY METHOD CONTENT_TYPE BODY_FILE [QUERY_STRING]
#       runs BINARY as plain CGI: env -i plus REQUEST_METHOD, QUERY_STRING,
#       CONTENT_TYPE (unless empty), CONTENT_LENGTH (BODY_FILE's size),
#       REMOTE_ADDR, GATEWAY_INTERFACE=CGI/1.1, SERVER_PROTOCOL=HTTP/1.1,
#       PATH, every exported PAYHOOK_* and HTTP_* (request header) variable,
#       ASAN_OPTIONS and UBSAN_OPTIONS when set; stdin is BODY_FILE (a
#       file, never a socket). Optional settings, e.g.
#       `CGI_CONTENT_LENGTH=500 cgi_run ...`:
#         CGI_CONTENT_LENGTH  the CONTENT_LENGTH to claim (any text), or
#                             "none" to leave it unset
#         CGI_REMOTE_ADDR     the client address (default 127.0.0.1)
#         PH_TEST_WRAPPER     a command put in front of BINARY (valgrind ...)
#         CGI_TIMEOUT         seconds before the handler is killed (60)
#       Sets CGI_STATUS (the number from "Status: NNN ...", 200 without
#       one; "exit-N" when the handler exited N != 0, so that a crash
#       never passes for an answer), CGI_HEADERS (the header lines, CRs
#       removed), CGI_BODY (after the first empty line, CRLF or LF),
#       CGI_STDERR, CGI_EXIT, and the files CGI_STDOUT_FILE (the raw
#       reply) and CGI_STDERR_FILE. As with any $(...), trailing
#       newlines of CGI_BODY and CGI_STDERR are dropped.

# shellcheck disable=SC2034 # globals set for the caller
declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"
declare -F scan_note_env >/dev/null || . "${BASH_SOURCE[0]%/*}/scan.sh"

# curl run by a test (also directly) never goes through a proxy to 127.0.0.1.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

ph_http_dir=$(mktemp -d /tmp/payhook-http.XXXXXX)
ph_on_exit rm -rf "$ph_http_dir"

cgi_run() {
	local bin=$1 method=$2 ctype=$3 file=$4 query=${5:-} len var
	local -a env
	if [ ! -r "$file" ]; then
		diag "cgi_run: cannot read body file '$file'"
		return 1
	fi
	env=(REQUEST_METHOD="$method" QUERY_STRING="$query" GATEWAY_INTERFACE=CGI/1.1
		SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR="${CGI_REMOTE_ADDR:-127.0.0.1}"
		PATH="$PATH")
	[ -z "$ctype" ] || env+=(CONTENT_TYPE="$ctype")
	if [ -n "${CGI_CONTENT_LENGTH:-}" ]; then
		len=$CGI_CONTENT_LENGTH
	else
		len=$(wc -c <"$file")
		len=${len//[[:space:]]/}
	fi
	[ "$len" = none ] || env+=(CONTENT_LENGTH="$len")
	# Request headers (HTTP_X_FORWARDED_FOR, HTTP_STEPPAY_SIGNATURE, ...)
	# and payhook's settings pass through from the test's environment.
	while IFS= read -r var; do
		env+=("$var=${!var}")
	done < <(compgen -e | grep -E '^(PAYHOOK_|HTTP_[A-Z0-9_]+$)' | grep -v '^HTTP_PROXY$' || true)
	[ -z "${ASAN_OPTIONS:-}" ] || env+=(ASAN_OPTIONS="$ASAN_OPTIONS")
	[ -z "${UBSAN_OPTIONS:-}" ] || env+=(UBSAN_OPTIONS="$UBSAN_OPTIONS")
	CGI_STDOUT_FILE=$ph_http_dir/cgi-stdout
	CGI_STDERR_FILE=$ph_http_dir/cgi-stderr
	# shellcheck disable=SC2086
	timeout -k 5 "${CGI_TIMEOUT:-60}" env -i "${env[@]}" ${PH_TEST_WRAPPER:-} "$bin" \
		<"$file" >"$CGI_STDOUT_FILE" 2>"$CGI_STDERR_FILE" && CGI_EXIT=0 || CGI_EXIT=$?
	scan_note_env "${env[@]}"
	scan_keep_log "$CGI_STDERR_FILE"
	CGI_STDERR=$(cat "$CGI_STDERR_FILE")
	# Headers end at the first empty line (CRLF or LF).
	CGI_HEADERS=$(sed -e 's/\r$//' -e '/^$/,$d' "$CGI_STDOUT_FILE")
	CGI_BODY=$(awk 'body { print; next } /^\r?$/ { body = 1 }' "$CGI_STDOUT_FILE")
	CGI_STATUS=$(printf '%s\n' "$CGI_HEADERS" | sed -n 's/^[Ss][Tt][Aa][Tt][Uu][Ss]:[ \t]*\([0-9][0-9][0-9]\).*/\1/p' | head -n 1)
	CGI_STATUS=${CGI_STATUS:-200}
	if [ "$CGI_EXIT" != 0 ]; then
		[ "$CGI_EXIT" != 124 ] || diag "cgi_run: $bin killed after ${CGI_TIMEOUT:-60} s"
		diag "handler exited $CGI_EXIT: $CGI_STDERR"
		CGI_STATUS="exit-$CGI_EXIT"
	fi
	return 0
}

http_post() {
	local url=$1 ctype=$2 file=$3
	shift 3
	rm -f "$ph_http_dir/http-body" "$ph_http_dir/http-headers"
	HTTP_STATUS=$(curl -q -sS --noproxy '*' --max-time 10 -o "$ph_http_dir/http-body" \
		-D "$ph_http_dir/http-headers" -w '%{http_code}' \
		-H "Content-Type: $ctype" --data-binary "@$file" "$@" "$url" \
		2>"$ph_http_dir/curl-stderr") || {
		diag "curl: $(cat "$ph_http_dir/curl-stderr")"
		HTTP_STATUS=curl-failed
	}
	HTTP_BODY=$(cat "$ph_http_dir/http-body" 2>/dev/null || true)
	HTTP_HEADERS=$(tr -d '\r' <"$ph_http_dir/http-headers" 2>/dev/null || true)
	return 0
}

# http_post_until_up URL CONTENT_TYPE FILE [CURL_ARGS...]: http_post, sent
# again while the answer is 503 -- a handler waits out its reconnect
# backoff (at most 3 s) after the database comes back -- for 10 s at most.
http_post_until_up() {
	local i
	for i in $(seq 1 20); do
		http_post "$@"
		[ "$HTTP_STATUS" != 503 ] && return 0
		sleep 0.5
	done
}

# steppay_v2_signature FILE SECRET [TIMESTAMP]: a Steppay-Signature header
# value for the body in FILE: timestamp=T,key=base64(HMAC-SHA256(SECRET,
# T "." body)), T the Unix time now unless given.
steppay_v2_signature() {
	local ts=${3:-$(date +%s)} mac
	mac=$({ printf '%s.' "$ts"; cat "$1"; } | openssl dgst -sha256 -hmac "$2" -binary | base64)
	printf 'timestamp=%s,key=%s' "$ts" "$mac"
}
