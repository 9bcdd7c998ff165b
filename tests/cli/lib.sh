# Shared by the CLI test scripts: source it first. Each script gets the
# lapgan binary as $1 and reports one "PASS name" / "FAIL name: why" line
# per case; tests/run.sh adds them up.
#   bin    the lapgan binary          tmp    a scratch dir, removed on exit
#   pass NAME / fail NAME [WHY]       fails  the failure count
#   check NAME CMD...                 passes when CMD exits 0
#   expect_fail NAME CODE PATTERN CMD...  exit CODE and one stderr line matching PATTERN
#   finish                            the script's exit status
bin="${1:?usage: $0 path/to/lapgan}"
tmp=$(mktemp -d /tmp/lapgan-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; fails=$((fails + 1)); }
finish() { [ "$fails" -eq 0 ]; }
check() {
  local name=$1; shift
  if "$@" >"$tmp/check.out" 2>&1; then pass "$name"
  else fail "$name" "$* -> $(tail -c 300 "$tmp/check.out")"; fi
}
expect_fail() {
  local name=$1 code=$2 pat=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -qE -- "$pat" "$tmp/err"; then
    pass "$name"
  else
    fail "$name" "exit $rc (want $code), $lines stderr lines: $(head -c 300 "$tmp/err")"
  fi
}
