# A real lighttpd with mod_fastcgi on 127.0.0.1 (sourced by bash after tap.sh).
#
#   lighttpd_start HANDLER URL_PATH [NAME=VALUE | param:NAME=VALUE |
#                  handler:URL_PATH=HANDLER ...]
#       serves HANDLER (an absolute path, no spaces) as a FastCGI program
#       at URL_PATH (a prefix): one process at start, a second one under
#       load. Each handler:URL_PATH=HANDLER serves one more handler the
#       same way, with the same settings. Each NAME=VALUE is put in the
#       handlers' process environment
#       ("bin-environment"), each param:NAME=VALUE is sent with every
#       request as a FastCGI parameter (mod_setenv, as Apache's SetEnv
#       does). lighttpd starts with an empty environment (PATH only), so
#       the handler sees nothing else of the test's environment (no PG*,
#       no PAYHOOK_*). Exports LIGHTTPD_URL (http://127.0.0.1:PORT) and
#       LIGHTTPD_ERRORLOG (lighttpd's error log, where the handler's
#       stderr goes too). Returns 1, with the logs as "#" lines on
#       stderr, when lighttpd does not come up.
#   lighttpd_stop
#       stops lighttpd and its FastCGI processes (also run on exit).
#
# Globals: LIGHTTPD_DIR (temporary directory: lighttpd.conf, error.log,
# the sockets), LIGHTTPD_PID, LIGHTTPD_PORT.

# shellcheck disable=SC2034 # globals set for the caller
declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"
declare -F scan_note_env >/dev/null || . "${BASH_SOURCE[0]%/*}/scan.sh"
lighttpd_settings=()

LIGHTTPD_PID=
LIGHTTPD_DIR=

# lighttpd_quote VALUE: VALUE as a lighttpd configuration string. Its
# tokenizer knows one escape, \" ; a value ending in a backslash cannot be
# written at all.
lighttpd_quote() {
	case $1 in
	*\\ | *$'\n'*)
		echo "# lighttpd_start: cannot put '$1' in lighttpd.conf (ends in a backslash or has a newline)" >&2
		return 1
		;;
	esac
	printf '"%s"' "${1//\"/\\\"}"
}

lighttpd_port_busy() { # PORT: something accepts connections there
	# shellcheck disable=SC2016
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

lighttpd_start() {
	local handler=$1 path=$2 bin kv name value env="" params="" modules setenv i port up
	local -a handlers paths
	local servers n
	shift 2
	lighttpd_settings=("$@")
	if [ -n "$LIGHTTPD_PID" ]; then
		echo "# lighttpd_start: already running (pid $LIGHTTPD_PID)" >&2
		return 1
	fi
	bin=$(command -v lighttpd 2>/dev/null) || bin=/usr/sbin/lighttpd
	if [ ! -x "$bin" ]; then
		echo "# lighttpd_start: lighttpd not installed (apt-get install lighttpd)" >&2
		return 1
	fi
	handlers=("$handler") paths=("$path")
	for kv in "$@"; do
		case $kv in
		handler:?*=?*)
			kv=${kv#handler:}
			paths+=("${kv%%=*}")
			handlers+=("${kv#*=}")
			;;
		esac
	done
	for i in "${!handlers[@]}"; do
		handler=${handlers[$i]}
		case $handler in
		/*) ;;
		*) handler=$PWD/$handler ;;
		esac
		case $handler in
		*[[:space:]]*)
			# lighttpd splits "bin-path" at spaces into a command line.
			echo "# lighttpd_start: handler path has a space: $handler" >&2
			return 1
			;;
		esac
		if [ ! -x "$handler" ]; then
			echo "# lighttpd_start: handler not executable: $handler" >&2
			return 1
		fi
		handlers[i]=$handler
		lighttpd_quote "${paths[$i]}" >/dev/null || return 1
	done
	for kv in "$@"; do
		case $kv in
		handler:*) continue ;;
		*=*) ;;
		*)
			echo "# lighttpd_start: expected NAME=VALUE or param:NAME=VALUE, got '$kv'" >&2
			return 1
			;;
		esac
		name=${kv%%=*}
		value=$(lighttpd_quote "${kv#*=}") || return 1
		case $name in
		param:?*)
			name=$(lighttpd_quote "${name#param:}") || return 1
			params="$params$name => $value,
	"
			;;
		?*)
			name=$(lighttpd_quote "$name") || return 1
			env="$env$name => $value,
		"
			;;
		*)
			echo "# lighttpd_start: empty name in '$kv'" >&2
			return 1
			;;
		esac
	done

	LIGHTTPD_DIR=$(mktemp -d /tmp/payhook-lighttpd.XXXXXX)
	ph_on_exit rm -rf "$LIGHTTPD_DIR"
	ph_on_exit lighttpd_stop
	chmod 0755 "$LIGHTTPD_DIR"
	mkdir "$LIGHTTPD_DIR/upload"
	LIGHTTPD_ERRORLOG=$LIGHTTPD_DIR/error.log
	: >"$LIGHTTPD_ERRORLOG"
	modules='"mod_fastcgi"'
	setenv=
	if [ -n "$params" ]; then
		modules='"mod_setenv", "mod_fastcgi"'
		setenv="setenv.add-environment = (
	$params)"
	fi

	# A port nobody listens on; lighttpd may still lose it to someone
	# else before it binds, so the whole start is tried a few times.
	up=
	for _ in 1 2 3 4 5; do
		port=
		for i in $(seq 1 50); do
			port=$((20000 + RANDOM % 40001))
			lighttpd_port_busy "$port" || break
			port=
		done
		if [ -z "$port" ]; then
			echo "# lighttpd_start: found no free port in 20000-60000" >&2
			return 1
		fi
		servers=
		for i in "${!handlers[@]}"; do
			# The first handler's socket keeps its name.
			n=
			[ "$i" = 0 ] || n=-$i
			servers=$servers$(
				cat <<SERVER
$(lighttpd_quote "${paths[$i]}") => ((
	"socket" => "$LIGHTTPD_DIR/handler$n.sock",
	"bin-path" => $(lighttpd_quote "${handlers[$i]}"),
	"min-procs" => 1,
	"max-procs" => 2,
	"check-local" => "disable",
	"bin-environment" => (
		$env),
)),
SERVER
			)$'\n'
		done
		cat >"$LIGHTTPD_DIR/lighttpd.conf" <<CONF
server.document-root = "$LIGHTTPD_DIR"
server.upload-dirs = ( "$LIGHTTPD_DIR/upload" )
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$LIGHTTPD_DIR/lighttpd.pid"
server.errorlog = "$LIGHTTPD_ERRORLOG"
server.modules = ( $modules )
$setenv
fastcgi.server = ( $servers )
CONF
		# With -D lighttpd keeps the stderr it was given, and the FastCGI
		# processes inherit it: the error log, opened for appending, so
		# that lighttpd's own lines and the handler's interleave whole.
		# (server.breakagelog naming the same file does not do it: lighttpd
		# sees one log and leaves stderr alone.)
		(
			ph_close_fds
			exec env -i PATH="$PATH" "$bin" -D -f "$LIGHTTPD_DIR/lighttpd.conf"
		) </dev/null >>"$LIGHTTPD_ERRORLOG" 2>&1 &
		LIGHTTPD_PID=$!
		LIGHTTPD_PORT=$port
		for i in $(seq 1 100); do
			if ! kill -0 "$LIGHTTPD_PID" 2>/dev/null; then
				break
			fi
			# "server started" is logged once the port is bound (by
			# lighttpd, not by someone who took it meanwhile).
			if grep -q 'server started' "$LIGHTTPD_ERRORLOG" &&
				lighttpd_port_busy "$port"; then
				up=1
				break
			fi
			sleep 0.1
		done
		[ -z "$up" ] || break
		if kill -0 "$LIGHTTPD_PID" 2>/dev/null; then
			echo "# lighttpd_start: lighttpd runs but does not accept on port $port after 10 s" >&2
			break
		fi
		wait "$LIGHTTPD_PID" 2>/dev/null || true
		LIGHTTPD_PID=
		grep -q 'Address already in use' "$LIGHTTPD_ERRORLOG" || break
		echo "# lighttpd_start: port $port was taken meanwhile, trying another" >&2
		: >"$LIGHTTPD_ERRORLOG"
	done
	if [ -z "$up" ]; then
		echo "# lighttpd did not start; lighttpd.conf and the error log:" >&2
		sed 's/^/# /' "$LIGHTTPD_DIR/lighttpd.conf" "$LIGHTTPD_ERRORLOG" >&2
		lighttpd_stop
		return 1
	fi
	export LIGHTTPD_URL="http://127.0.0.1:$port" LIGHTTPD_ERRORLOG
}

# lighttpd_children PID: "pid:starttime" of each child of PID.
lighttpd_children() {
	local parent=$1 f pid stat rest
	for f in /proc/[0-9]*/stat; do
		{ read -r stat <"$f"; } 2>/dev/null || continue
		pid=${stat%% *}
		rest=${stat##*) } # fields from 3 (state) on; comm may hold spaces
		# shellcheck disable=SC2086
		set -- $rest
		[ "${2:-}" = "$parent" ] || continue
		echo "$pid:${20}"
	done
}

lighttpd_stop() {
	local kids k pid start i alive
	[ -n "$LIGHTTPD_PID" ] || return 0
	scan_note_env "${lighttpd_settings[@]}"
	kids=$(lighttpd_children "$LIGHTTPD_PID")
	# SIGTERM: lighttpd shuts down at once and sends its FastCGI
	# processes SIGTERM.
	kill -TERM "$LIGHTTPD_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$LIGHTTPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$LIGHTTPD_PID" 2>/dev/null || true
	wait "$LIGHTTPD_PID" 2>/dev/null || true
	LIGHTTPD_PID=
	scan_keep_log "$LIGHTTPD_ERRORLOG"
	# Whatever it started and left behind (same pid and start time).
	for i in $(seq 1 50); do
		alive=
		for k in $kids; do
			pid=${k%%:*} start=${k#*:}
			lighttpd_same_proc "$pid" "$start" && alive="$alive $k"
		done
		kids=$alive
		[ -n "$kids" ] || return 0
		if [ "$i" = 1 ]; then
			for k in $kids; do kill -TERM "${k%%:*}" 2>/dev/null || true; done
		elif [ "$i" = 30 ]; then
			for k in $kids; do kill -KILL "${k%%:*}" 2>/dev/null || true; done
		fi
		sleep 0.1
	done
}

lighttpd_same_proc() { # PID STARTTIME: still that process, not a zombie
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	# shellcheck disable=SC2086
	set -- "$2" ${stat##*) }
	[ "$2" != Z ] && [ "${21}" = "$1" ]
}
