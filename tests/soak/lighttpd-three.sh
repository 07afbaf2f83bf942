# tests/soak/lighttpd-three.sh: one lighttpd serving the three handlers as
# FastCGI, two processes each (sourced by tests/soak/run and
# tests/soak/drain-bench after tests/lib/lighttpd.sh).
#
#   lighttpd_up NAME   starts lighttpd with $W/NAME.conf's handlers from
#                      $BUILD/cgi-bin; sets UP_PID and UP_URL
#   soak_lighttpd_stop PID
#
# Needs W, BUILD, LIGHTTPD_BIN and die() from the caller.
lighttpd_up() {
	local name=$1 dir=$W/$1-lighttpd port i ep servers="" pid
	mkdir -p "$dir/upload"
	for ep in steppay-v1 steppay-v2 nicepay; do
		servers="$servers	\"/$ep\" => ((
		\"socket\" => \"$dir/$ep.sock\",
		\"bin-path\" => \"$BUILD/cgi-bin/$ep.fcgi\",
		\"min-procs\" => 2,
		\"max-procs\" => 2,
		\"check-local\" => \"disable\",
		\"bin-environment\" => (
			\"PAYHOOK_CONFIG\" => \"$W/$name.conf\",
			\"ASAN_OPTIONS\" => \"${ASAN_OPTIONS:-}\",
			\"UBSAN_OPTIONS\" => \"${UBSAN_OPTIONS:-}\",
		),
	)),
"
	done
	for i in $(seq 1 20); do
		port=$((20000 + RANDOM % 40001))
		lighttpd_port_busy "$port" || break
	done
	cat >"$dir/lighttpd.conf" <<CONF
server.document-root = "$dir"
server.upload-dirs = ( "$dir/upload" )
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$dir/lighttpd.pid"
server.errorlog = "$dir/error.log"
server.max-connections = 1024
server.modules = ( "mod_fastcgi" )
fastcgi.server = (
$servers)
CONF
	: >"$dir/error.log"
	(
		ph_close_fds
		exec env -i PATH="$PATH" "$LIGHTTPD_BIN" -D -f "$dir/lighttpd.conf"
	) </dev/null >>"$dir/error.log" 2>&1 &
	pid=$!
	ph_on_exit soak_lighttpd_stop "$pid"
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		if grep -q 'server started' "$dir/error.log" && lighttpd_port_busy "$port"; then
			UP_PID=$pid UP_URL=http://127.0.0.1:$port
			return 0
		fi
		sleep 0.1
	done
	sed 's/^/# /' "$dir/error.log" >&2
	die "lighttpd ($name) did not start"
}

soak_lighttpd_stop() { # PID: lighttpd and whatever it started
	local kids k i
	kids=$(lighttpd_children "$1")
	kill -TERM "$1" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	for k in $kids; do
		lighttpd_same_proc "${k%%:*}" "${k#*:}" && kill -KILL "${k%%:*}" 2>/dev/null || true
	done
}

