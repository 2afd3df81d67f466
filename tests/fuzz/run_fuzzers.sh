#!/usr/bin/env bash
# Fuzzes each target of the asan build for SECONDS (default 300), one after another, at a low
# priority (nice SDE_FUZZ_NICE, default 19). New inputs go to WORK/<target>/ (WORK: SDE_FUZZ_WORK,
# default /tmp/sde-fuzz), not into the seed corpus; a finding is written to WORK/<target>-artifacts/
# and stops that target. Prints one line of figures per target (a Markdown table); the whole
# libFuzzer output is WORK/<target>.log.
#   bash tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]     (targets: pickle zip safetensors config png_text idx)
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(pickle zip safetensors config png_text idx)
work=${SDE_FUZZ_WORK:-/tmp/sde-fuzz}
export OMP_NUM_THREADS=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:report_error_type=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=1
printf '| target | seconds | executions | exec/s | cov | ft | corpus (files / bytes) | peak RSS MB | found |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "$work/$target-artifacts"
    log="$work/$target.log"
    nice -n "${SDE_FUZZ_NICE:-19}" "build/asan/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$work/$target-artifacts/" "$work/$target" "tests/fuzz/corpus/$target" \
        >"$log" 2>&1
    rc=$?
    # The last status line ("#N ... cov: C ft: F corp: K/S ...") and the final stats.
    status=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status")
    corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$status")
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
    rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
    rss=$(sed -nE 's/^stat::peak_rss_mb: *([0-9]+)/\1/p' "$log")
    found="nothing"
    if ((rc != 0)); then
        found="exit $rc: $(grep -m1 -E 'ERROR: |runtime error|deadly signal|uncaught|out-of-memory|timeout' "$log" | cut -c1-120)"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$seconds" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$found"
done
