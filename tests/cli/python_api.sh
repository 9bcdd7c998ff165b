#!/usr/bin/env bash
# The C library as a binding sees it: liblapgan.so with its versioned
# soname and no study dependencies, and the usage example at the top of
# include/lapgan.h, compiled against the one public header and run.
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$here/tests/cli/lib.sh"
build=$(cd "$(dirname "$bin")" && pwd)
so="$build/liblapgan.so"
ver=$("$bin" --version | awk '{print $2}')

if [ -f "$so.$ver" ] && [ "$(readlink "$so")" = "liblapgan.so.$ver" ]; then pass so_files
else fail so_files "$so -> $(readlink "$so"), want liblapgan.so.$ver"; fi
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "liblapgan.so.${ver%%.*}" ] && pass soname || fail soname "soname '$soname'"
needed=$(readelf -d "$so" | grep NEEDED)
if echo "$needed" | grep -qE 'microhttpd|sqlite'; then fail so_without_study "$needed"
else pass so_without_study; fi
# The study is its own library, linked by the CLI only.
if nm -D --defined-only "$so" | grep -q ' lg_study_'; then fail study_not_in_so
else pass study_not_in_so; fi
[ -f "$build/liblapgan-study.a" ] && pass study_library || fail study_library "no liblapgan-study.a"
# Only the public API leaves the library: every exported symbol is an lg_
# function that a header under include/ declares (no backend, no protobuf).
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" || $2 == "R" {print $3}')
stray=$(for s in $exported; do grep -qwr -- "$s" "$here/include" || echo "$s"; done | head -5)
if [ -n "$exported" ] && [ -z "$stray" ]; then pass exports_public_api_only
else fail exports_public_api_only "not in include/: $(echo $stray)"; fi
echo "$exported" | grep -qx lg_train && echo "$exported" | grep -qx lg_model_sample &&
  pass exports_the_api || fail exports_the_api "lg_train or lg_model_sample not exported"

# The example between BEGIN and END, without the comment's leading " *   ".
sed -n '/^ \* BEGIN example$/,/^ \* END example$/p' "$here/include/lapgan.h" | sed '1d;$d' |
  sed 's/^ \*   \{0,1\}//; s/^ \*$//' > "$tmp/example.c"
[ "$(wc -l < "$tmp/example.c")" -gt 10 ] && pass example_extracted || fail example_extracted
san=; nm -D "$so" | grep -q __asan_init && san="-fsanitize=address,undefined"
if cc -std=c11 -Wall -Werror $san -I"$here/include" -o "$tmp/example" "$tmp/example.c" \
     -L"$build" -llapgan -Wl,-rpath,"$build" 2> "$tmp/cc.err"; then pass example_compiles
else fail example_compiles "$(head -c 400 "$tmp/cc.err")"; fi
if (cd "$tmp" && ./example "$tmp/run" > out.txt 2> err.txt) && grep -q '^first pixel ' "$tmp/out.txt" \
   && [ -f "$tmp/run/level_0.safetensors" ]; then pass example_runs
else fail example_runs "$(tail -c 300 "$tmp/err.txt")"; fi
# The library it ran is the shared one, found by its soname.
if ldd "$tmp/example" 2>/dev/null | grep -q "liblapgan.so.${ver%%.*} => $build/"; then pass example_uses_so
else fail example_uses_so "$(ldd "$tmp/example" | grep lapgan)"; fi
finish
