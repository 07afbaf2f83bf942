# A throwaway PostgreSQL cluster for one test script (sourced by bash after
# tap.sh). It listens only on a Unix socket in a fresh temporary directory
# and is stopped and removed on exit, even when the test fails.
#
#   pg_start      initdb + start; creates the database payhook_test and
#                 exports PGHOST PGPORT PGUSER PGDATABASE PH_TEST_CONNINFO.
#                 Returns 1 (server log as "#" lines on stderr) on failure.
#   pg_stop       stop the server (-m fast); the test goes on ("database down")
#   pg_restart    start it again (stopping it first when it runs)
#   pg_conninfo ROLE [DB]  the libpq string for ROLE on this cluster (DB:
#                 payhook_test unless given)
#   psql_q SQL    run SQL in payhook_test; prints the result unaligned,
#                 tuples only, fields separated by "|"; fails on an error
#
# Globals: PH_PG_BIN (server binaries), PH_PG_DIR (the temporary
# directory), PH_PG_DATA, PH_PG_SOCKDIR (= PGHOST), PH_PG_LOG (server log).
#
# initdb refuses to run as root: as root, initdb/pg_ctl/postgres run as the
# "postgres" system user through runuser (from /, which that user can
# enter); otherwise as the current user.

declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"

PH_PG_DIR=

pg_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null) || d=
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	fi
	# pg_config comes with libpq-dev and names /usr/bin: look for the
	# server's own directory, newest version first.
	# shellcheck disable=SC2012
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
		echo "$d"
		return 0
	fi
	return 1
}

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && ph_close_fds && exec runuser -u postgres -- "$@")
	else
		(ph_close_fds && exec "$@")
	fi
}

pg_log_diag() { # FILE: a log as "#" lines on stderr
	[ -s "$1" ] || return 0
	sed 's/^/# /' "$1" >&2
}

pg_conninfo() { # ROLE [DB]
	printf 'host=%s port=%s user=%s dbname=%s' "$PH_PG_SOCKDIR" "$PH_PG_PORT" "$1" \
		"${2:-payhook_test}"
}

pg_start() {
	local dir
	if [ -n "$PH_PG_DIR" ]; then
		echo "# pg_start: already started ($PH_PG_DIR)" >&2
		return 1
	fi
	PH_PG_BIN=$(pg_bindir) || {
		echo "# pg_start: PostgreSQL server binaries (initdb, pg_ctl) not found;" \
			"apt-get install postgresql" >&2
		return 1
	}
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "# pg_start: running as root but there is no 'postgres' user to run initdb as" >&2
		return 1
	fi
	dir=$(mktemp -d /tmp/payhook-pg.XXXXXX)
	PH_PG_DIR=$dir
	ph_on_exit rm -rf "$dir"
	PH_PG_DATA=$dir/data
	PH_PG_SOCKDIR=$dir/sock
	PH_PG_LOG=$dir/log
	mkdir "$PH_PG_SOCKDIR"
	chmod 0755 "$dir" "$PH_PG_SOCKDIR"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$dir" "$PH_PG_SOCKDIR"
	fi
	# The socket's name only: no TCP (listen_addresses is empty).
	PH_PG_PORT=$((5432 + $$ % 1000))

	# Registered before the server exists: a start that half-worked is
	# stopped too. Runs before the rm -rf above (reverse order).
	ph_on_exit pg_kill

	if ! pg_as "$PH_PG_BIN/initdb" -D "$PH_PG_DATA" -A trust -U postgres --no-sync \
		-E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
		echo "# pg_start: initdb failed:" >&2
		pg_log_diag "$dir/initdb.log"
		return 1
	fi

	# Settings from the caller's environment must not redirect psql.
	unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGREQUIRESSL \
		PGPASSWORD PGPASSFILE PGTARGETSESSIONATTRS PGCONNECT_TIMEOUT
	export PGHOST=$PH_PG_SOCKDIR PGPORT=$PH_PG_PORT PGUSER=postgres PGDATABASE=payhook_test
	PH_TEST_CONNINFO=$(pg_conninfo postgres)
	export PH_TEST_CONNINFO

	pg_server_start || return 1
	if ! psql -X -q -v ON_ERROR_STOP=1 -h "$PH_PG_SOCKDIR" -p "$PH_PG_PORT" -U postgres \
		-d postgres -c "CREATE DATABASE payhook_test" >"$dir/createdb.log" 2>&1; then
		echo "# pg_start: cannot create the database payhook_test:" >&2
		pg_log_diag "$dir/createdb.log"
		pg_log_diag "$PH_PG_LOG"
		return 1
	fi
}

pg_server_start() {
	if ! pg_as "$PH_PG_BIN/pg_ctl" -D "$PH_PG_DATA" -w -t 60 -l "$PH_PG_LOG" \
		-o "-p $PH_PG_PORT -k $PH_PG_SOCKDIR -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=100" \
		start >"$PH_PG_DIR/pg_ctl.log" 2>&1; then
		echo "# PostgreSQL did not start:" >&2
		pg_log_diag "$PH_PG_DIR/pg_ctl.log"
		pg_log_diag "$PH_PG_LOG"
		return 1
	fi
}

pg_running() {
	[ -n "$PH_PG_DIR" ] && pg_as "$PH_PG_BIN/pg_ctl" -D "$PH_PG_DATA" status >/dev/null 2>&1
}

pg_stop() {
	if [ -z "$PH_PG_DIR" ]; then
		echo "# pg_stop: no cluster (call pg_start first)" >&2
		return 1
	fi
	pg_as "$PH_PG_BIN/pg_ctl" -D "$PH_PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || {
		echo "# pg_stop: the server did not stop:" >&2
		pg_log_diag "$PH_PG_LOG"
		return 1
	}
}

pg_restart() {
	if [ -z "$PH_PG_DIR" ]; then
		echo "# pg_restart: no cluster (call pg_start first)" >&2
		return 1
	fi
	if pg_running; then
		pg_stop || return 1
	fi
	pg_server_start
}

# The exit cleanup: stop at once; kill the postmaster if pg_ctl could not.
pg_kill() {
	local pid i
	[ -n "$PH_PG_DIR" ] && [ -d "$PH_PG_DATA" ] || return 0
	pg_as "$PH_PG_BIN/pg_ctl" -D "$PH_PG_DATA" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
	[ -f "$PH_PG_DATA/postmaster.pid" ] || return 0
	pid=$(head -n 1 "$PH_PG_DATA/postmaster.pid" 2>/dev/null) || return 0
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	kill -KILL "$pid" 2>/dev/null || return 0
	# Its backends notice the postmaster's death and exit on their own.
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}

psql_q() {
	psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 \
		-h "$PH_PG_SOCKDIR" -p "$PH_PG_PORT" -U postgres -d payhook_test -c "$1"
}
