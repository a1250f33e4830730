#!/usr/bin/env bash
# Instructions per yield round trip (A -> B -> A), counted by callgrind:
# repeatable on a noisy machine, where a wall-clock ratio of two medians is
# not. For each mode of the trace_cost example (plain runtime, task
# metrics, tracing) it counts a run of N round trips and one of 2N; the
# difference divided by N is the cost of one round trip, free of start-up
# and teardown.
#
#   scripts/instructions.sh            # N = 1,000,000
#   scripts/instructions.sh 200000     # a quicker, as exact, count
#
# Needs valgrind (apt-get install valgrind) and a release build of the
# example (built here).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
if ! command -v valgrind >/dev/null; then
    echo "valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
fi
cargo build -q --release --example trace_cost
bin=target/release/examples/trace_cost

# count MODE YIELDS: instructions of one run.
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$bin" --only "$1" --rounds 1 --yields "$2" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "instructions per yield round trip (callgrind; runs of $n and $((2 * n)) round trips)"
plain=""
for mode in off metrics trace; do
    one=$(count "$mode" "$n")
    two=$(count "$mode" $((2 * n)))
    per=$(awk -v a="$one" -v b="$two" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
    if [[ -z "$plain" ]]; then
        plain=$per
        printf '  %-8s %7s per round trip\n' "$mode" "$per"
    else
        extra=$(awk -v p="$per" -v q="$plain" 'BEGIN { printf "%.1f", (p - q) / 2 }')
        printf '  %-8s %7s per round trip, %s more per switch than off\n' "$mode" "$per" "$extra"
    fi
done
