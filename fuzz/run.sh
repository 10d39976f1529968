#!/usr/bin/env bash
# Runs each fuzz target for N seconds (default 20) from its seed corpus in
# fuzz/corpus/NAME (copied to a scratch folder so the repo stays clean).
# Prints "fuzz: NAME ok" per clean target; exits non-zero on a crash.
set -u
cd "$(dirname "$0")/.."
seconds=${1:-20}
status=0
for bin in build/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work=$(mktemp -d)
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
  if "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="build/fuzz/${name}-" "$work" >"build/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "build/fuzz/$name.log" | awk '{print $2}') runs)"
  else
    echo "fuzz: $name FAILED (see build/fuzz/$name.log)"
    tail -n 30 "build/fuzz/$name.log"
    status=1
  fi
  rm -rf "$work"
done
exit $status
