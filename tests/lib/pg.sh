# A throwaway PostgreSQL cluster for one test script (sourced by bash after
# tap.sh). It runs as an unprivileged user (initdb refuses root), listens
# only on a Unix socket in a temporary directory, and is stopped and
# removed on exit, even when the test fails.
#   pg_start      start it; exports PGHOST PGPORT PGUSER PGDATABASE and
#                 PH_TEST_CONNINFO
#   pg_stop       stop it (the test goes on: "database down")
#   pg_restart    start it again
#   psql_q SQL    run SQL, print unaligned tuples

pg_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir)
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
	return 1
}

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		# From /, which the postgres user can always enter.
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

pg_start() {
	PG_BIN=$(pg_bindir) || bail_out "PostgreSQL server binaries not found (apt-get install postgresql)"
	PG_DIR=$(mktemp -d /tmp/payhook-pg.XXXXXX)
	chmod 0755 "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
	ph_on_exit rm -rf "$PG_DIR"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync -E UTF8 \
		--locale=C >"$PG_DIR/initdb.log" 2>&1 || { diag "$(cat "$PG_DIR/initdb.log")"; bail_out "initdb failed"; }
	export PGHOST="$PG_DIR" PGPORT=$((5432 + $$ % 1000)) PGUSER=postgres PGDATABASE=payhook_test
	ph_on_exit pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop
	pg_restart
	psql -X -q -d postgres -c "CREATE DATABASE payhook_test" >/dev/null ||
		bail_out "cannot create the test database"
	export PH_TEST_CONNINFO="host=$PGHOST port=$PGPORT user=postgres dbname=payhook_test"
}

pg_restart() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -l "$PG_DIR/server.log" \
		-o "-k $PG_DIR -p $PGPORT -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=100" \
		start >/dev/null || { diag "$(cat "$PG_DIR/server.log")"; bail_out "PostgreSQL did not start"; }
}

pg_stop() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

psql_q() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}
