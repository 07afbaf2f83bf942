#!/bin/sh
# Runs libFuzzer targets for a bounded time each, from their seed corpus
# and dictionaries, and prints one TAP line per target with its numbers.
#
#   smoke.sh FUZZDIR SECONDS TARGET...
#
# FUZZDIR is the source tree's fuzz/ (corpus/<name>/, dict/); TARGET is a
# built target's path (fuzz/fuzz_json). New inputs go to fuzz/work/<name>
# in the build tree, findings to fuzz/artifacts/. Exits 1 when any target
# crashed, leaked, timed out or printed a sanitizer report; its log is
# shown then.
set -u
src=$1 seconds=$2
shift 2

# The dictionaries each target gets: JSON tokens for the JSON parsers,
# the providers' field names and values for theirs.
dicts() {
	case $1 in
	fuzz_json) echo json.dict ;;
	fuzz_form) echo form.dict ;;
	fuzz_conf) echo conf.dict ;;
	fuzz_cidr) echo cidr.dict ;;
	fuzz_steppay_v1) echo json.dict form.dict steppay.dict ;;
	fuzz_steppay_v2) echo json.dict steppay.dict ;;
	fuzz_nicepay) echo json.dict nicepay.dict ;;
	esac
}

# Longer inputs where a limit is only reached beyond libFuzzer's default
# 4096 bytes: PH_JSON_MAX_ARRAY and _MEMBERS, PH_CONF_MAX_LINE.
max_len() {
	case $1 in
	fuzz_json) echo 20000 ;;
	fuzz_conf) echo 9000 ;;
	*) echo 4096 ;;
	esac
}

echo "1..$#"
n=0 failed=0
mkdir -p fuzz/work fuzz/artifacts
for target in "$@"; do
	n=$((n + 1))
	name=$(basename "$target")
	work=fuzz/work/$name
	log=fuzz/work/$name.log
	dict=fuzz/work/$name.dict
	mkdir -p "$work"
	: >"$dict"
	for d in $(dicts "$name"); do
		cat "$src/dict/$d" >>"$dict"
	done
	dictopt=
	[ -s "$dict" ] && dictopt=-dict=$dict
	status=0
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GB is a
	# leak or an unbounded allocation. Leak checking is on (ASan default).
	"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -max_len="$(max_len "$name")" $dictopt -artifact_prefix="fuzz/artifacts/$name-" \
		"$work" "$src/corpus/$name" >"$log" 2>&1 || status=$?
	if [ $status = 0 ] && grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
		status=98
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*\(cov: [0-9]* ft: [0-9]* corp: [^ ]*\).*/\1/p')
	if [ $status = 0 ]; then
		echo "ok $n - $name: ${seconds}s, ${runs:-?} runs, ${rate:-?}/s, ${cov:-no coverage line}"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name: exit $status, ${runs:-?} runs; log $log"
		sed -n '/==ERROR\|runtime error\|^artifact_prefix\|Test unit written/p' "$log" | head -n 20
		tail -n 40 "$log" | sed 's/^/# /'
	fi
done
[ $failed = 0 ]
