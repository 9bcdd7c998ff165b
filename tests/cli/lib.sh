# Shared by the CLI test scripts: source it first. Each script gets the
# lapgan binary as $1 and reports one "PASS name" / "FAIL name: why" line
# per case; tests/run.sh adds them up.
#   bin    the lapgan binary          tmp    a scratch dir, removed on exit
#   pass NAME / fail NAME [WHY]       fails  the failure count
#   check NAME CMD...                 passes when CMD exits 0
#   expect_fail NAME CODE PATTERN CMD...  exit CODE and one stderr line matching PATTERN
#   finish                            the script's exit status
#   skip_or_fail NAME WHY             a check that cannot run: "SKIP NAME: WHY",
#                                     a FAIL under CI=true (the set-up must provide it)
#   skip_absent NAME WHY              for what cannot exist on this machine (a GPU):
#                                     a SKIP everywhere, tagged $absent_tag
#   skip_all NAME WHY                 skip_or_fail, then end the script
# The same rule as SKIP/SKIP_ABSENT in tests/test.h; tests/run.sh counts an
# untagged SKIP line under CI=true as a failure too.
bin="${1:?usage: $0 path/to/lapgan}"
tmp=$(mktemp -d /tmp/lapgan-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; fails=$((fails + 1)); }
finish() { [ "$fails" -eq 0 ]; }
absent_tag='(cannot exist here)'
skip_or_fail() {
  if [ -z "${2:-}" ]; then fail "$1" "SKIP without a reason"
  elif [ "${CI:-}" = true ]; then fail "$1" "cannot run under CI=true (the set-up must provide it): $2"
  else echo "SKIP $1: $2"; fi
}
skip_absent() {
  if [ -z "${2:-}" ]; then fail "$1" "SKIP without a reason"; else echo "SKIP $1: $2 $absent_tag"; fi
}
skip_all() { skip_or_fail "$@"; finish; exit; }
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
