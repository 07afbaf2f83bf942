# A real Apache httpd on 127.0.0.1 for one test (sourced by bash after
# tap.sh), set up as a shared host is: the site's directory allows
# .htaccess files (AllowOverride All), mod_fcgid and mod_cgid are loaded,
# and what runs is decided by the site's own .htaccess.
#
#   apache_start DOCROOT [SERVER_CONF_LINE...]
#       starts Debian's apache2 (mpm_event; mod_authz_core, mod_mime,
#       mod_env, mod_alias, mod_fcgid, mod_cgid, mod_proxy, mod_proxy_fcgi) with its own
#       ServerRoot, PidFile, ErrorLog and runtime files in a temporary
#       directory, on a free port of 127.0.0.1, serving DOCROOT. Run as
#       root, its workers, FastCGI and CGI processes run as APACHE_USER
#       (www-data, else nobody): DOCROOT and what it serves must be
#       readable by that user. Each SERVER_CONF_LINE is added to the
#       server configuration. ASAN_OPTIONS and UBSAN_OPTIONS reach the
#       FastCGI and CGI programs. With APACHE_NO_FCGID set, mod_fcgid is
#       not loaded (a host without FastCGI). Exports APACHE_URL
#       (http://127.0.0.1:PORT) and APACHE_ERRORLOG (where the programs'
#       stderr goes too). Returns 1, with the logs as "#" lines on
#       stderr, when Apache does not come up.
#   apache_stop
#       stops Apache and every process it started (also run on exit).
#
# Globals: APACHE_DIR, APACHE_PID, APACHE_PORT, APACHE_USER, APACHE_GROUP.

# shellcheck disable=SC2034 # globals set for the caller
declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"
declare -F srv_spawn >/dev/null || . "${BASH_SOURCE[0]%/*}/server.sh"
declare -F scan_keep_log >/dev/null || . "${BASH_SOURCE[0]%/*}/scan.sh"

APACHE_PID=
APACHE_DIR=
APACHE_MODULES=/usr/lib/apache2/modules
if [ "$(id -u)" = 0 ]; then
	if id www-data >/dev/null 2>&1; then
		APACHE_USER=www-data APACHE_GROUP=www-data
	else
		APACHE_USER=nobody APACHE_GROUP=$(id -gn nobody)
	fi
else
	# Not root: Apache cannot change user; everything runs as us.
	APACHE_USER=$(id -un) APACHE_GROUP=$(id -gn)
fi

# apache_share PATH...: lets APACHE_GROUP read (and enter) PATH, and no
# one else, as the web server's group owns a site's files on a host.
apache_share() {
	local p
	for p in "$@"; do
		if [ "$(id -u)" = 0 ]; then
			chgrp "$APACHE_GROUP" "$p"
		fi
		if [ -d "$p" ]; then chmod 0750 "$p"; else chmod g+r,o-rwx "$p"; fi
	done
}

apache_start() {
	local docroot=$1 bin extra="" line port up try userconf="" sanconf="" fcgidconf=""
	shift
	if [ -n "$APACHE_PID" ]; then
		echo "# apache_start: already running (pid $APACHE_PID)" >&2
		return 1
	fi
	bin=$(command -v apache2 2>/dev/null) || bin=/usr/sbin/apache2
	if [ ! -x "$bin" ] || [ ! -f "$APACHE_MODULES/mod_fcgid.so" ]; then
		echo "# apache_start: apache2 or mod_fcgid not installed (apt-get install apache2 libapache2-mod-fcgid)" >&2
		return 1
	fi
	for line in "$@"; do
		extra="$extra$line
"
	done
	APACHE_DIR=$(mktemp -d /tmp/payhook-apache.XXXXXX)
	ph_on_exit rm -rf "$APACHE_DIR"
	ph_on_exit apache_stop
	chmod 0755 "$APACHE_DIR"
	mkdir "$APACHE_DIR/run" "$APACHE_DIR/fcgid"
	# The workers (running as the user) reach mod_cgid's socket here.
	chmod 0755 "$APACHE_DIR/run"
	# The FastCGI process manager (running as the user) makes its sockets here.
	[ "$(id -u)" != 0 ] || chown "$APACHE_USER:$APACHE_GROUP" "$APACHE_DIR/fcgid"
	APACHE_ERRORLOG=$APACHE_DIR/error.log
	: >"$APACHE_ERRORLOG"
	if [ -z "${APACHE_NO_FCGID:-}" ]; then
		fcgidconf="LoadModule fcgid_module $APACHE_MODULES/mod_fcgid.so
FcgidIPCDir \"$APACHE_DIR/fcgid\"
FcgidProcessTableFile \"$APACHE_DIR/fcgid/shm\""
	fi
	[ "$(id -u)" != 0 ] || userconf="User $APACHE_USER
Group $APACHE_GROUP"
	# The sanitizers' settings reach FastCGI (FcgidInitialEnv) and CGI
	# (PassEnv) programs; an unset one is left out (PassEnv warns).
	for line in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -n "${!line:-}" ] || continue
		sanconf="${sanconf}PassEnv $line
"
		[ -n "${APACHE_NO_FCGID:-}" ] || sanconf="${sanconf}FcgidInitialEnv $line \"${!line}\"
"
	done

	up=
	for try in 1 2 3 4 5; do
		port=$(srv_free_port) || return 1
		cat >"$APACHE_DIR/httpd.conf" <<CONF
ServerRoot "$APACHE_DIR"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$APACHE_DIR/run/httpd.pid"
DefaultRuntimeDir "$APACHE_DIR/run"
Mutex file:$APACHE_DIR/run default
ErrorLog "$APACHE_ERRORLOG"
LogLevel warn
$userconf
LoadModule mpm_event_module $APACHE_MODULES/mod_mpm_event.so
LoadModule authz_core_module $APACHE_MODULES/mod_authz_core.so
LoadModule mime_module $APACHE_MODULES/mod_mime.so
LoadModule env_module $APACHE_MODULES/mod_env.so
LoadModule alias_module $APACHE_MODULES/mod_alias.so
$fcgidconf
LoadModule cgid_module $APACHE_MODULES/mod_cgid.so
LoadModule proxy_module $APACHE_MODULES/mod_proxy.so
LoadModule proxy_fcgi_module $APACHE_MODULES/mod_proxy_fcgi.so
TypesConfig /etc/mime.types
ScriptSock "$APACHE_DIR/run/cgid.sock"
$sanconf
StartServers 1
ServerLimit 2
ThreadsPerChild 4
MaxRequestWorkers 8
DocumentRoot "$docroot"
<Directory />
	AllowOverride None
	Require all denied
</Directory>
<Directory "$docroot">
	Options FollowSymLinks
	AllowOverride All
	Require all granted
</Directory>
$extra
CONF
		srv_spawn "$APACHE_ERRORLOG" env -i PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
			UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "$bin" -f "$APACHE_DIR/httpd.conf" -DFOREGROUND
		APACHE_PID=$SRV_PID
		APACHE_PORT=$port
		if srv_wait_port "$APACHE_PID" "$port" 15; then
			up=1
			break
		fi
		if kill -0 "$APACHE_PID" 2>/dev/null; then
			echo "# apache_start: apache2 runs but does not accept on port $port after 15 s" >&2
			break
		fi
		wait "$APACHE_PID" 2>/dev/null || true
		APACHE_PID=
		grep -q 'Address already in use' "$APACHE_ERRORLOG" || break
		echo "# apache_start: port $port was taken meanwhile, trying another" >&2
		: >"$APACHE_ERRORLOG"
	done
	if [ -z "$up" ]; then
		echo "# Apache did not start; httpd.conf and the error log:" >&2
		sed 's/^/# /' "$APACHE_DIR/httpd.conf" "$APACHE_ERRORLOG" >&2
		apache_stop
		return 1
	fi
	export APACHE_URL="http://127.0.0.1:$port" APACHE_ERRORLOG
}

apache_stop() {
	[ -n "$APACHE_PID" ] || return 0
	srv_stop "$APACHE_PID" || true
	APACHE_PID=
	# For tests/run's secret scan: the handlers' lines are in it.
	scan_keep_log "$APACHE_ERRORLOG"
}
