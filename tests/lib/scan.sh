# The secret scan (sourced by http.sh and lighttpd.sh; run by tests/run).
# When PH_SCAN_DIR is set, every handler's log that a test sees (plain-CGI
# stderr, lighttpd's error log) is kept under $PH_SCAN_DIR/logs, and every
# secret the handler was configured with goes to $PH_SCAN_DIR/secrets.
# After the suite, `bash tests/lib/scan.sh DIR` looks for each secret in
# each log and prints what it found.
#
#   scan_note_env NAME=VALUE ...   secrets among PAYHOOK_* settings, and in
#                                  the file a PAYHOOK_CONFIG names
#   scan_keep_log FILE             a copy of FILE's lines under logs/

# The configuration keys that hold secrets (lib/conf.c, PH_CT_SECRET),
# without `database` (a connection string is not itself written anywhere).
scan_secret_keys="steppay_v2_secret steppay_v1_token steppay_api_key nicepay_secret_key"

scan_add_secret() { # LIST: comma-separated values
	local v
	local IFS=,
	for v in $1; do
		v=${v#"${v%%[![:space:]]*}"}
		v=${v%"${v##*[![:space:]]}"}
		# A short value would match by chance.
		[ ${#v} -lt 8 ] || printf '%s\n' "$v" >> "$PH_SCAN_DIR/secrets"
	done
}

scan_note_env() {
	local kv name value key
	[ -n "${PH_SCAN_DIR:-}" ] || return 0
	mkdir -p "$PH_SCAN_DIR/logs"
	for kv in "$@"; do
		name=${kv%%=*} value=${kv#*=}
		case $name in
		PAYHOOK_CONFIG)
			[ -r "$value" ] || continue
			for key in $scan_secret_keys; do
				scan_add_secret "$(sed -n "s/^[[:space:]]*$key[[:space:]]*=\(.*\)$/\1/p" "$value")"
			done ;;
		PAYHOOK_*)
			key=${name#PAYHOOK_}
			key=${key,,}
			case " $scan_secret_keys " in
			*" $key "*) scan_add_secret "$value" ;;
			esac ;;
		esac
	done
}

scan_keep_log() { # FILE
	[ -n "${PH_SCAN_DIR:-}" ] && [ -s "$1" ] || return 0
	mkdir -p "$PH_SCAN_DIR/logs"
	cat "$1" >> "$PH_SCAN_DIR/logs/${0##*/}.$$.log"
}

# bash tests/lib/scan.sh DIR: 0 when no secret is in any log.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	dir=${1:?usage: scan.sh DIR}
	[ -d "$dir/logs" ] && [ -s "$dir/secrets" ] || {
		echo "secret scan: nothing was recorded in $dir" >&2
		exit 1
	}
	sort -u "$dir/secrets" -o "$dir/secrets"
	nsecrets=$(wc -l < "$dir/secrets")
	nlogs=$(find "$dir/logs" -type f | wc -l)
	bytes=$(cat "$dir/logs"/* | wc -c)
	found=$(grep -F -l -f "$dir/secrets" "$dir/logs"/* || true)
	if [ -n "$found" ]; then
		echo "secret scan: a configured secret is in these logs:" >&2
		for f in $found; do
			grep -F -o -f "$dir/secrets" "$f" | sort -u | sed "s|^|  ${f##*/}: |" >&2
		done
		exit 1
	fi
	echo "secret scan: $nsecrets secrets, $nlogs logs ($bytes bytes): none found"
fi
