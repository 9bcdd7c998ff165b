#!/usr/bin/env bash
# lapgan serve / study report: bad command lines and files give one-line
# errors; hostile HTTP requests get clean errors while the server keeps
# serving (tests/study/bad_input.py); the report's numbers match an
# independent computation from the database. Usage: study_http.sh LAPGAN
set -u
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -d /usr/share/datasets/fashion-mnist ] || ! command -v python3 >/dev/null; then
  skip_all study_http "needs Fashion-MNIST and python3 (scripts/deps.sh installs them)"
fi
"$bin" train --preset tiny --steps 5 --out "$tmp/tiny" --quiet >/dev/null 2>"$tmp/err" &&
"$bin" train --preset tiny --steps 5 --class-conditional --out "$tmp/cc" --quiet >/dev/null 2>>"$tmp/err" ||
  { fail train_tiny "$(cat "$tmp/err")"; exit 1; }

# expect_fail NAME CODE NEEDLE CMD ARGS...: exit CODE, one stderr line containing NEEDLE.
expect_fail() {
  local name=$1 code=$2 needle=$3; shift 3
  timeout 60 "$bin" "$@" >/dev/null 2>"$tmp/err"
  local rc=$? lines; lines=$(wc -l <"$tmp/err")
  if [ $rc -ne "$code" ]; then fail "$name" "exit $rc, expected $code: $(cat "$tmp/err")"
  elif [ "$lines" -ne 1 ]; then fail "$name" "$lines stderr lines: $(cat "$tmp/err")"
  elif ! grep -q -- "$needle" "$tmp/err"; then fail "$name" "stderr: $(cat "$tmp/err")"
  else pass "$name"; fi
}

m="--model lapgan=$tmp/tiny"
expect_fail serve_no_db 2 "--db FILE is required" serve $m
expect_fail serve_no_model 2 "at least one --model" serve --db "$tmp/x.db"
expect_fail serve_bad_model_arg 2 "NAME=RUN_DIR" serve --db "$tmp/x.db" --model "a/b=$tmp/tiny"
expect_fail serve_model_named_real 2 "reserved" serve --db "$tmp/x.db" --model "real=$tmp/tiny"
expect_fail serve_model_twice 2 "given twice" serve --db "$tmp/x.db" $m $m
expect_fail serve_bad_exposure 2 "--exposure" serve --db "$tmp/x.db" $m --exposure 10
expect_fail serve_bad_interp 2 "--interp" serve --db "$tmp/x.db" $m --interp cubic
expect_fail serve_bad_port 2 "--port" serve --db "$tmp/x.db" $m --port 70000
expect_fail serve_bad_host 2 "not an IPv4 or IPv6" serve --db "$tmp/x.db" $m --port 0 --host example.org
expect_fail serve_missing_model 1 "model 'gone'" serve --db "$tmp/x.db" --model "gone=$tmp/nothing"
cp -r "$tmp/tiny" "$tmp/broken"
head -c 100 "$tmp/tiny/level_0.safetensors" > "$tmp/broken/level_0.safetensors"
expect_fail serve_corrupt_model 1 "model 'broken'" serve --db "$tmp/x.db" --model "broken=$tmp/broken"
head -c 4096 /dev/urandom > "$tmp/corrupt.db"
expect_fail serve_corrupt_db 1 "corrupt.db" serve --db "$tmp/corrupt.db" $m --port 0
printf 'SQLite format 3\0garbage' > "$tmp/trunc.db"
expect_fail serve_truncated_db 1 "trunc.db" serve --db "$tmp/trunc.db" $m --port 0
python3 -c "import sqlite3; sqlite3.connect('$tmp/other.db').execute('create table t(x)')"
expect_fail serve_foreign_db 1 "not a lapgan study database" serve --db "$tmp/other.db" $m --port 0
expect_fail serve_dir_as_db 1 "$tmp" serve --db "$tmp" $m --port 0
expect_fail report_missing_db 1 "none.db.*o such file" study report --db "$tmp/none.db"
expect_fail report_corrupt_db 1 "corrupt.db" study report --db "$tmp/corrupt.db"
expect_fail report_no_db 2 "--db FILE is required" study report
expect_fail study_unknown_sub 2 "unknown subcommand" study frobnicate

# Hostile HTTP (the server itself is started by the script, on 127.0.0.1).
python3 "$here/tests/study/bad_input.py" "$bin" "$tmp" "$tmp/tiny" "$tmp/cc" || fails=$((fails + 1))

# The study's configuration is stored; another configuration on the same
# database is refused, the same one continues it.
db="$tmp/bad.db"
n=$(python3 -c "import sqlite3,json; c=sqlite3.connect('$db'); j=json.loads(c.execute('select study from config').fetchone()[0]); print(len(j['sources']), j['exposures_ms'], j['seed'])")
[ "$n" = "3 [100, 0] 1" ] && pass config_stored || fail config_stored "$n"
rows=$(python3 -c "import sqlite3; print(sqlite3.connect('$db').execute('select count(*) from judgements').fetchone()[0])")
expect_fail serve_other_config_refused 2 "another configuration" serve --db "$db" \
  --model "lapgan=$tmp/tiny" --model "cc=$tmp/cc" --trials 12 --pool 2 --exposure 100 --port 0
"$bin" serve --db "$db" --model "lapgan=$tmp/tiny" --model "cc=$tmp/cc" --trials 12 --pool 2 \
  --exposure 100,unlimited --port 0 >"$tmp/again.log" 2>&1 & pid=$!
for _ in $(seq 600); do grep -qs listening "$tmp/again.log" && break; sleep 0.1; done
if grep -q "listening" "$tmp/again.log" && grep -q "$rows judgements so far" "$tmp/again.log"; then
  pass same_config_continues; else fail same_config_continues "$(cat "$tmp/again.log")"; fi
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 0 ] && grep -q "stopped: $rows judgements" "$tmp/again.log" && pass sigterm_clean_stop ||
  fail sigterm_clean_stop "exit $rc: $(tail -1 "$tmp/again.log")"

# SIGTERM while the pools are made: stops before listening, one line.
"$bin" serve --db "$tmp/early.db" --model "lapgan=$tmp/tiny" --port 0 >"$tmp/early.log" 2>&1 & pid=$!
sleep 0.2; kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 1 ] && [ "$(cat "$tmp/early.log")" = "lapgan serve: interrupted" ]; then pass sigterm_during_startup
elif grep -q listening "$tmp/early.log" && [ $rc -eq 0 ]; then pass sigterm_during_startup # a fast start
else fail sigterm_during_startup "exit $rc: $(cat "$tmp/early.log")"; fi

# Report: CSV against Wilson intervals computed here from the rows.
if "$bin" study report --db "$db" --csv >"$tmp/report.csv" 2>"$tmp/err"; then
  python3 - "$db" "$tmp/report.csv" "$here/tests/study" <<'PY' && pass report_csv_matches_db || fail report_csv_matches_db
import csv, sqlite3, sys
sys.path.insert(0, sys.argv[3])
from common import wilson
con = sqlite3.connect(sys.argv[1])
rows = {r["source"]: r for r in csv.DictReader(open(sys.argv[2])) if r["group"] == "source"}
ok = len(rows) == 3
for src, n, k in con.execute("select source, count(*), sum(answer='real') from judgements group by source"):
    r = rows[src]
    lo, hi = wilson(k, n)
    good = (int(r["n"]) == n and int(r["judged_real"]) == k and abs(float(r["fraction"]) - k / n) < 1e-6
            and abs(float(r["ci_low"]) - lo) < 1e-6 and abs(float(r["ci_high"]) - hi) < 1e-6)
    print(src, n, k, r["ci_low"], r["ci_high"], "expected %.6f %.6f" % (lo, hi), "ok" if good else "MISMATCH")
    ok &= good
per_class = [r for r in csv.DictReader(open(sys.argv[2])) if r["group"] == "class"]
ok &= sum(int(r["n"]) for r in per_class) == con.execute("select count(*) from judgements where class is not null").fetchone()[0]
sys.exit(0 if ok else 1)
PY
else fail report_csv_matches_db "$(cat "$tmp/err")"; fi
"$bin" study report --db "$db" >"$tmp/report.txt" 2>"$tmp/err" && grep -q "$rows judgements" "$tmp/report.txt" \
  && grep -q "^real " "$tmp/report.txt" && pass report_text || fail report_text "$(cat "$tmp/err" "$tmp/report.txt")"

# HTML: into an existing report before </body>, replaced (not repeated) on a second run.
printf '<!DOCTYPE html>\n<html><body>\n<h1>evaluation</h1>\n</body></html>\n' > "$tmp/eval.html"
"$bin" study report --db "$db" --html "$tmp/eval.html" >/dev/null 2>"$tmp/err" &&
"$bin" study report --db "$db" --html "$tmp/eval.html" >/dev/null 2>>"$tmp/err"
if [ "$(grep -c 'lapgan-study:begin' "$tmp/eval.html")" = 1 ] && grep -q '<h1>evaluation</h1>' "$tmp/eval.html" \
   && [ "$(tail -1 "$tmp/eval.html")" = '</body></html>' ]; then pass report_html_insert
else fail report_html_insert "$(cat "$tmp/err")"; fi

exit $((fails > 0))
