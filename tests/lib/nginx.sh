# A real nginx on 127.0.0.1 for one test (sourced by bash after tap.sh).
#
#   nginx_start SERVER_CONF_FILE
#       starts Debian's nginx with its own prefix, pid file, error log and
#       temporary directories in a temporary directory, on a free port of
#       127.0.0.1, with one server block that includes SERVER_CONF_FILE
#       (and Debian's fastcgi_params beside nginx.conf, for its include).
#       Run as root, its worker runs as NGINX_USER (www-data, else nobody).
#       Exports NGINX_URL (http://127.0.0.1:PORT) and NGINX_ERRORLOG.
#       Returns 1, with the logs as "#" lines on stderr, when nginx does
#       not come up.
#   nginx_stop
#       stops nginx and its worker (also run on exit).
#
# Globals: NGINX_DIR, NGINX_PID, NGINX_PORT, NGINX_USER.

# shellcheck disable=SC2034 # globals set for the caller
declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"
declare -F srv_spawn >/dev/null || . "${BASH_SOURCE[0]%/*}/server.sh"
declare -F scan_keep_log >/dev/null || . "${BASH_SOURCE[0]%/*}/scan.sh"

NGINX_PID=
NGINX_DIR=
if id www-data >/dev/null 2>&1; then NGINX_USER=www-data; else NGINX_USER=nobody; fi

nginx_start() {
	local include=$1 bin port up try userconf="" t
	if [ -n "$NGINX_PID" ]; then
		echo "# nginx_start: already running (pid $NGINX_PID)" >&2
		return 1
	fi
	bin=$(command -v nginx 2>/dev/null) || bin=/usr/sbin/nginx
	if [ ! -x "$bin" ]; then
		echo "# nginx_start: nginx is not installed (apt-get install nginx)" >&2
		return 1
	fi
	NGINX_DIR=$(mktemp -d /tmp/payhook-nginx.XXXXXX)
	ph_on_exit rm -rf "$NGINX_DIR"
	ph_on_exit nginx_stop
	chmod 0755 "$NGINX_DIR"
	mkdir "$NGINX_DIR/www" "$NGINX_DIR/tmp"
	for t in body fastcgi proxy uwsgi scgi; do mkdir "$NGINX_DIR/tmp/$t"; done
	if [ "$(id -u)" = 0 ]; then
		chown -R "$NGINX_USER" "$NGINX_DIR/tmp"
		userconf="user $NGINX_USER $(id -gn "$NGINX_USER");"
	fi
	# "include fastcgi_params;" is relative to nginx.conf's directory.
	[ ! -f /etc/nginx/fastcgi_params ] || cp /etc/nginx/fastcgi_params "$NGINX_DIR/"
	NGINX_ERRORLOG=$NGINX_DIR/error.log
	: >"$NGINX_ERRORLOG"

	up=
	for try in 1 2 3 4 5; do
		port=$(srv_free_port) || return 1
		cat >"$NGINX_DIR/nginx.conf" <<CONF
$userconf
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_ERRORLOG warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $NGINX_DIR/tmp/body;
	fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
	proxy_temp_path $NGINX_DIR/tmp/proxy;
	uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
	scgi_temp_path $NGINX_DIR/tmp/scgi;
	server {
		listen 127.0.0.1:$port;
		server_name localhost;
		root $NGINX_DIR/www;
		include $include;
	}
}
CONF
		srv_spawn "$NGINX_ERRORLOG" env -i PATH="$PATH" "$bin" -p "$NGINX_DIR" \
			-e "$NGINX_ERRORLOG" -c "$NGINX_DIR/nginx.conf" -g 'daemon off;'
		NGINX_PID=$SRV_PID
		NGINX_PORT=$port
		if srv_wait_port "$NGINX_PID" "$port" 15; then
			up=1
			break
		fi
		if kill -0 "$NGINX_PID" 2>/dev/null; then
			echo "# nginx_start: nginx runs but does not accept on port $port after 15 s" >&2
			break
		fi
		wait "$NGINX_PID" 2>/dev/null || true
		NGINX_PID=
		grep -q 'Address already in use' "$NGINX_ERRORLOG" || break
		echo "# nginx_start: port $port was taken meanwhile, trying another" >&2
		: >"$NGINX_ERRORLOG"
	done
	if [ -z "$up" ]; then
		echo "# nginx did not start; nginx.conf and the error log:" >&2
		sed 's/^/# /' "$NGINX_DIR/nginx.conf" "$NGINX_ERRORLOG" >&2
		nginx_stop
		return 1
	fi
	export NGINX_URL="http://127.0.0.1:$port" NGINX_ERRORLOG
}

nginx_stop() {
	[ -n "$NGINX_PID" ] || return 0
	srv_stop "$NGINX_PID" || true
	NGINX_PID=
	scan_keep_log "$NGINX_ERRORLOG"
}
