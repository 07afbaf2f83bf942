# TAP output and cleanup for the integration tests (sourced by bash, first).
#
#   tap_plan N            print the plan "1..N" up front (optional)
#   ok NAME CMD [ARG...]  passes when CMD exits 0 (its output is shown
#                         as diagnostics only when it fails)
#   is GOT WANT NAME      string equality
#   like GOT REGEX NAME   bash [[ =~ ]] match (extended regular expression)
#   diag MSG...           "# MSG" lines on stdout (one per line of MSG)
#   skip_all REASON       "1..0 # SKIP REASON", exit 0; but with CI=true
#                         "Bail out! REASON", exit 1: CI never skips silently
#   bail_out REASON       "Bail out! REASON", exit 1
#   tap_done              prints "1..<count>" when no plan was given;
#                         returns 1 when a test failed (or the count does
#                         not match the plan). End every script with it.
#   ph_on_exit CMD [ARG...]
#                         registers a cleanup; one EXIT trap runs them all
#                         in reverse order, also when the script dies
#                         (set -e), is interrupted (INT, TERM, HUP) or
#                         bails out. Never set your own EXIT trap.
#   ph_close_fds          closes descriptors above 2 (before exec of a server)
#
# Globals: tap_n (tests run), tap_failed (tests failed), tap_planned.
# A script that dies before tap_done gets a "Bail out!" line naming the
# command and line that failed, so the TAP driver reports an ERROR.

# Files a test writes (configurations holding secrets among them) are
# not readable by other users, as payhook requires of its configuration.
umask 027

tap_n=0
tap_failed=0
tap_planned=
tap_finished=
tap_tmp=

tap_result() { # STATUS NAME
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then
		printf 'ok %d - %s\n' "$tap_n" "$2"
	else
		printf 'not ok %d - %s\n' "$tap_n" "$2"
		tap_failed=$((tap_failed + 1))
	fi
}

diag() {
	# "#" on every line, even the empty ones; nothing for an empty MSG.
	[ -n "$*" ] || return 0
	printf '%s\n' "$*" | sed 's/^/# /'
}

tap_plan() {
	tap_planned=$1
	echo "1..$1"
}

ok() {
	local name=$1 rc
	shift
	# In this shell (a function may set globals), output kept aside.
	if [ -z "${tap_tmp:-}" ]; then
		tap_tmp=$(mktemp -d /tmp/payhook-tap.XXXXXX)
		ph_on_exit rm -rf "$tap_tmp"
	fi
	"$@" >"$tap_tmp/ok.out" 2>&1 </dev/null && rc=0 || rc=$?
	if [ "$rc" = 0 ]; then
		tap_result 0 "$name"
	else
		tap_result 1 "$name"
		diag "  command failed (exit $rc): $*"
		diag "$(head -c 4000 "$tap_tmp/ok.out")"
	fi
	return 0
}

is() {
	if [ "$1" = "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "  got: '$1'"
		diag "  expected: '$2'"
	fi
}

like() {
	if [[ $1 =~ $2 ]]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "  got: '$1'"
		diag "  expected to match: '$2'"
	fi
}

bail_out() {
	echo "Bail out! $*"
	tap_finished=bailed
	exit 1
}

skip_all() {
	if [ "${CI:-}" = true ]; then
		bail_out "$* (CI=true: a skip is a failure)"
	fi
	echo "1..0 # SKIP $*"
	tap_finished=skipped
	exit 0
}

tap_done() {
	tap_finished=yes
	if [ -z "$tap_planned" ]; then
		echo "1..$tap_n"
	elif [ "$tap_planned" != "$tap_n" ]; then
		diag "planned $tap_planned tests but ran $tap_n"
		return 1
	fi
	[ "$tap_failed" = 0 ]
}

# ---- cleanups -----------------------------------------------------------
ph_cleanups=()
ph_main_pid=$BASHPID

ph_on_exit() {
	ph_cleanups+=("$(printf '%q ' "$@")")
}

# ph_close_fds: closes every descriptor above 2 in this (sub)shell, so that
# a server started from it holds none of the test's pipes (a TAP driver
# reading the test's output, make's jobserver). Use in ( ... exec CMD ).
ph_close_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] 2>/dev/null || continue
		eval "exec $fd>&-" 2>/dev/null || true
	done
	return 0
}

ph_run_cleanups() {
	local i
	for ((i = ${#ph_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${ph_cleanups[i]}" </dev/null >/dev/null 2>&1 || true
	done
	ph_cleanups=()
}

ph_exit_trap() {
	local rc=$?
	# Only the test script itself cleans up, never a subshell.
	[ "$BASHPID" = "$ph_main_pid" ] || return "$rc"
	set +e
	if [ -z "$tap_finished" ]; then
		echo "Bail out! ${0##*/} died after $tap_n tests (exit status $rc)${ph_last_error:+; last failing command: $ph_last_error}"
	fi
	ph_run_cleanups
	return "$rc"
}

# Where set -e stopped the script (functions and subshells included).
set -o errtrace
trap 'ph_last_error="${BASH_SOURCE[0]:-?}:$LINENO: $BASH_COMMAND${FUNCNAME[0]:+ (in ${FUNCNAME[0]}, called from ${BASH_SOURCE[1]:-?}:${BASH_LINENO[0]})}"' ERR
trap ph_exit_trap EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
