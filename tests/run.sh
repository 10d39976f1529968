#!/usr/bin/env bash
# Runs every test binary of the release and ASan+UBSan builds, then a short
# fuzz run of each fuzz target when clang is present, and ends with the
# summary line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
export CHIRP_TESTDATA="${CHIRP_TESTDATA:-$root/../shared/data}"
export CHIRP_ROOT="$root"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
# mpirun refuses root unless told; CI runs as root in a container.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
if [ ! -d "$CHIRP_TESTDATA" ]; then
  echo "note: test data not found at $CHIRP_TESTDATA (set CHIRP_TESTDATA); tests that need it are skipped"
fi

passed=0; failed=0; skipped=0
failed_names=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for build in release asan; do
  if [ "$build" = release ]; then export CHIRP_BIN="$root/chirp"; else export CHIRP_BIN="$root/build/asan/chirp"; fi
  for t in build/$build/tests/test_*; do
    [ -x "$t" ] || continue
    name="$build/$(basename "$t")"
    echo "=== $name"
    start=$(date +%s)
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before its summary
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    [ "$f" -gt 0 ] && failed_names+=("$name")
    echo "--- $name: $p passed, $f failed, $s skipped ($(( $(date +%s) - start ))s)"
  done
done

if command -v clang >/dev/null 2>&1 && [ -z "${CHIRP_SKIP_FUZZ:-}" ]; then
  echo "=== fuzz (${CHIRP_FUZZ_SECONDS:-20}s per target)"
  if make --no-print-directory -f fuzz/fuzz.mk >"$log" 2>&1 && fuzz/run.sh "${CHIRP_FUZZ_SECONDS:-20}" >"$log" 2>&1; then
    tail -n 20 "$log"
    n=$(grep -c '^fuzz: .* ok' "$log")
    passed=$((passed + n))
  else
    cat "$log"
    failed=$((failed + 1)); failed_names+=("fuzz")
  fi
fi

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
