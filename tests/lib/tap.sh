# TAP output for the integration tests (sourced by bash).
#   ok NAME CMD...        passes when CMD exits 0
#   is GOT WANT NAME      string equality
#   like GOT REGEX NAME   bash regex match
#   diag MSG              a comment line
#   tap_done              prints the plan; returns 1 when a test failed
# Every test numbers itself; the plan comes at the end.

tap_n=0
tap_failed=0

tap_result() { # STATUS NAME
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

ok() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		tap_result 0 "$name"
	else
		tap_result 1 "$name"
		diag "  command failed: $*"
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "       got: '$1'"
		diag "  expected: '$2'"
	fi
}

like() {
	if [[ $1 =~ $2 ]]; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "       got: '$1'"
		diag "  expected to match: '$2'"
	fi
}

# A missing tool is a failure, never a silent skip.
bail_out() {
	echo "Bail out! $*"
	exit 1
}

tap_done() {
	echo "1..$tap_n"
	[ "$tap_failed" = 0 ]
}

# Cleanups run in reverse order by one EXIT trap, even on failure.
ph_cleanups=()
ph_on_exit() {
	ph_cleanups+=("$(printf '%q ' "$@")")
}
ph_run_cleanups() {
	local i
	for ((i = ${#ph_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${ph_cleanups[i]}" >/dev/null 2>&1 || true
	done
	ph_cleanups=()
}
trap ph_run_cleanups EXIT
trap 'exit 130' INT TERM
