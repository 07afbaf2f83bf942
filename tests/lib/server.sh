# Starting and stopping a throwaway server for a test (sourced by bash
# after tap.sh; used by apache.sh and nginx.sh).
#
#   srv_port_busy PORT      something accepts connections on 127.0.0.1:PORT
#   srv_free_port           prints a port in 20000-60000 nobody listens on
#                           (someone may still take it before the server
#                           binds: callers retry on "Address already in use")
#   srv_spawn LOG CMD [ARG...]
#                           runs CMD in the background in a session (and
#                           process group) of its own, with an empty
#                           environment apart from PATH and what CMD's
#                           "env" prefix adds, stdin /dev/null, stdout and
#                           stderr appended to LOG, no descriptor of the
#                           test open; sets SRV_PID (= the group's id)
#   srv_wait_port PID PORT SECONDS
#                           waits until PORT accepts while PID lives;
#                           returns 1 when PID died or the time ran out
#   srv_stop PID            SIGTERM to PID, up to 5 s for it to exit, then
#                           SIGTERM and, 3 s later, SIGKILL to whatever
#                           is left in its process group (workers,
#                           FastCGI processes); waits for the group to be
#                           gone (10 s at most)

declare -F ph_on_exit >/dev/null || . "${BASH_SOURCE[0]%/*}/tap.sh"

srv_port_busy() {
	# shellcheck disable=SC2016
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

srv_free_port() {
	local i port
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40001))
		srv_port_busy "$port" || {
			echo "$port"
			return 0
		}
	done
	echo "# srv_free_port: found no free port in 20000-60000" >&2
	return 1
}

srv_spawn() {
	local log=$1
	shift
	# Not a group leader (no job control in a script), so setsid needs no
	# fork: $! is the server's pid and its process group's id.
	(
		ph_close_fds
		exec setsid "$@"
	) </dev/null >>"$log" 2>&1 &
	SRV_PID=$!
}

srv_wait_port() {
	local pid=$1 port=$2 secs=$3 i
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || return 1
		srv_port_busy "$port" && return 0
		sleep 0.1
	done
	return 1
}

# srv_group_alive PGID: a process (not a zombie) of that group exists.
srv_group_alive() {
	local pgid=$1 f stat rest
	for f in /proc/[0-9]*/stat; do
		{ read -r stat <"$f"; } 2>/dev/null || continue
		rest=${stat##*) } # fields from 3 (state) on; comm may hold spaces
		# shellcheck disable=SC2086
		set -- $rest
		[ "$1" != Z ] && [ "${3:-}" = "$pgid" ] && return 0
	done
	return 1
}

srv_stop() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		srv_group_alive "$pid" || return 0
		if [ "$i" = 1 ]; then
			kill -TERM -- "-$pid" 2>/dev/null || true
		elif [ "$i" = 30 ]; then
			kill -KILL -- "-$pid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	echo "# srv_stop: processes of group $pid are still there" >&2
	return 1
}
