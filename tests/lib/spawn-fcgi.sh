# A handler started by spawn-fcgi on a Unix socket, as the systemd unit in
# conf/nginx/ runs it (sourced by bash after tap.sh).
#
#   spawnfcgi_start SOCKET HANDLER LOG [NAME=VALUE...]
#       runs `spawn-fcgi -n -s SOCKET -M 0660 -- HANDLER` with an
#       environment of PATH, ASAN_OPTIONS, UBSAN_OPTIONS (when set) and
#       each NAME=VALUE; as root, the handler runs as SPAWNFCGI_USER and
#       the socket belongs to that user and group (-u -g -U -G). The
#       handler's stderr goes to LOG. Waits (10 s at most) for the socket.
#       Appends the process's id to SPAWNFCGI_PIDS; returns 1, with LOG
#       as "#" lines on stderr, when the socket does not appear.
#   spawnfcgi_stop_all
#       stops them all (also run on exit).

declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"
declare -F srv_spawn >/dev/null || . "${BASH_SOURCE[0]%/*}/server.sh"
declare -F scan_keep_log >/dev/null || . "${BASH_SOURCE[0]%/*}/scan.sh"

SPAWNFCGI_PIDS=
SPAWNFCGI_LOGS=
SPAWNFCGI_TRAP=
if id www-data >/dev/null 2>&1; then SPAWNFCGI_USER=www-data; else SPAWNFCGI_USER=nobody; fi

spawnfcgi_start() {
	local sock=$1 handler=$2 log=$3 bin i
	local -a cmd env
	shift 3
	bin=$(command -v spawn-fcgi 2>/dev/null) || bin=/usr/bin/spawn-fcgi
	if [ ! -x "$bin" ]; then
		echo "# spawnfcgi_start: spawn-fcgi is not installed (apt-get install spawn-fcgi)" >&2
		return 1
	fi
	if [ -z "$SPAWNFCGI_TRAP" ]; then
		ph_on_exit spawnfcgi_stop_all
		SPAWNFCGI_TRAP=1
	fi
	env=(PATH="$PATH")
	[ -z "${ASAN_OPTIONS:-}" ] || env+=(ASAN_OPTIONS="$ASAN_OPTIONS")
	[ -z "${UBSAN_OPTIONS:-}" ] || env+=(UBSAN_OPTIONS="$UBSAN_OPTIONS")
	env+=("$@")
	cmd=("$bin" -n -s "$sock" -M 0660)
	if [ "$(id -u)" = 0 ]; then
		cmd+=(-u "$SPAWNFCGI_USER" -g "$(id -gn "$SPAWNFCGI_USER")"
			-U "$SPAWNFCGI_USER" -G "$(id -gn "$SPAWNFCGI_USER")")
	fi
	rm -f "$sock"
	srv_spawn "$log" env -i "${env[@]}" "${cmd[@]}" -- "$handler"
	SPAWNFCGI_PIDS="$SPAWNFCGI_PIDS $SRV_PID"
	case " $SPAWNFCGI_LOGS " in *" $log "*) ;; *) SPAWNFCGI_LOGS="$SPAWNFCGI_LOGS $log" ;; esac
	for i in $(seq 1 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# spawn-fcgi did not create $sock; its log:" >&2
	sed 's/^/# /' "$log" >&2
	return 1
}

spawnfcgi_stop_all() {
	local pid log
	for pid in $SPAWNFCGI_PIDS; do
		srv_stop "$pid" || true
	done
	SPAWNFCGI_PIDS=
	# For tests/run's secret scan.
	for log in $SPAWNFCGI_LOGS; do
		scan_keep_log "$log"
	done
	SPAWNFCGI_LOGS=
}
