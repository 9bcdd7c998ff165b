# Helpers for CLI test scripts: source it, call `ok NAME` / `bad NAME MSG`,
# and end with `finish`. Each script gets the lapgan binary as $1.
LG_BIN="${1:?usage: $0 path/to/lapgan}"
LG_FAILS=0
LG_TMP=$(mktemp -d /tmp/lg_cli_XXXXXX)
trap 'rm -rf "$LG_TMP"' EXIT
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; LG_FAILS=$((LG_FAILS + 1)); }
check() {
  local name=$1; shift
  if "$@" >"$LG_TMP/check.out" 2>&1; then ok "$name"
  else bad "$name" "$* -> $(tail -c 300 "$LG_TMP/check.out")"; fi
}
finish() { [ "$LG_FAILS" -eq 0 ]; }
# expect_fail NAME CODE PATTERN CMD...: exit code CODE, exactly one stderr
# line matching PATTERN.
expect_fail() {
  local name=$1 code=$2 pat=$3; shift 3
  "$@" >"$LG_TMP/out" 2>"$LG_TMP/err"; local rc=$?
  local lines; lines=$(wc -l <"$LG_TMP/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" "$LG_TMP/err"; then
    ok "$name"
  else
    bad "$name" "exit $rc (want $code), $lines stderr lines: $(head -c 300 "$LG_TMP/err")"
  fi
}
