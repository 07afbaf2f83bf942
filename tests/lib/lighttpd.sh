# A real lighttpd with mod_fastcgi on 127.0.0.1 (sourced by bash after tap.sh).
#   lighttpd_start HANDLER URL_PATH [NAME=VALUE | param:NAME=VALUE ...]
#       serves HANDLER as a FastCGI program (two processes) at URL_PATH,
#       with each NAME=VALUE in its process environment and each
#       param:NAME=VALUE sent as a FastCGI request parameter (mod_setenv,
#       as Apache's SetEnv does); exports LIGHTTPD_URL and
#       LIGHTTPD_ERRORLOG (where the handlers' stderr goes).

lighttpd_start() {
	local handler=$1 path=$2 port i env="" params=""
	shift 2
	command -v lighttpd >/dev/null 2>&1 || [ -x /usr/sbin/lighttpd ] ||
		bail_out "lighttpd not installed (apt-get install lighttpd)"
	LIGHTTPD_DIR=$(mktemp -d /tmp/payhook-lighttpd.XXXXXX)
	chmod 0755 "$LIGHTTPD_DIR"
	ph_on_exit rm -rf "$LIGHTTPD_DIR"
	for kv in "$@"; do
		case $kv in
		param:*)
			kv=${kv#param:}
			params="$params \"${kv%%=*}\" => \"${kv#*=}\","
			;;
		*)
			env="$env \"${kv%%=*}\" => \"${kv#*=}\","
			;;
		esac
	done
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
	done
	LIGHTTPD_ERRORLOG="$LIGHTTPD_DIR/error.log"
	cat > "$LIGHTTPD_DIR/lighttpd.conf" <<CONF
server.document-root = "$LIGHTTPD_DIR"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$LIGHTTPD_DIR/lighttpd.pid"
server.errorlog = "$LIGHTTPD_ERRORLOG"
server.modules = ( "mod_setenv", "mod_fastcgi" )
setenv.add-environment = ( $params )
fastcgi.server = ( "$path" => ((
	"socket" => "$LIGHTTPD_DIR/handler.sock",
	"bin-path" => "$handler",
	"min-procs" => 2,
	"max-procs" => 2,
	"check-local" => "disable",
	"bin-environment" => ( $env ),
)) )
CONF
	PATH="$PATH:/usr/sbin" lighttpd -D -f "$LIGHTTPD_DIR/lighttpd.conf" 2>>"$LIGHTTPD_ERRORLOG" &
	LIGHTTPD_PID=$!
	ph_on_exit lighttpd_stop
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		kill -0 "$LIGHTTPD_PID" 2>/dev/null || { diag "$(cat "$LIGHTTPD_ERRORLOG")"; bail_out "lighttpd did not start"; }
		sleep 0.1
	done
	export LIGHTTPD_URL="http://127.0.0.1:$port" LIGHTTPD_ERRORLOG
}

lighttpd_stop() {
	local i
	[ -n "${LIGHTTPD_PID:-}" ] || return 0
	kill "$LIGHTTPD_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$LIGHTTPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$LIGHTTPD_PID" 2>/dev/null || true
	LIGHTTPD_PID=
}
