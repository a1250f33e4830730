#!/usr/bin/env bash
# Server CPU time per HTTP request for several servers or builds, in
# interleaved rounds, so that a difference of a few per cent shows through
# a noisy machine: each round runs every entry once, in order, with
# `scripts/per_request.sh SERVER CONNECTIONS cpu REQUESTS`, and the
# summary gives each entry's median over the rounds and its ratio to the
# first entry's (requests per CPU-second: entry / first).
#
#   scripts/per_request_rounds.sh ROUNDS CONNECTIONS ENTRY...
#
#   ENTRY  LABEL=SERVER[@BIN]: a name for the summary, the server of the
#          http bench (corio, tokio, may, std), and optionally the bench
#          binary to run it from (another commit's build; default: the
#          newest `cargo bench --bench http --no-run`)
#
# Example, corio at two commits against tokio, 12 rounds:
#
#   cargo bench --bench http --no-run          # at each commit, then
#   cp target/release/deps/http-XXXX /tmp/http-old    # keep its binary
#   scripts/per_request_rounds.sh 12 1000 tokio=tokio old=corio@/tmp/http-old new=corio
#
# Each run measures 400,000 requests (REQUESTS=N to change it). Every
# round's figures go to stderr as they come; the summary to stdout.
set -euo pipefail
rounds=${1:?usage: per_request_rounds.sh ROUNDS CONNECTIONS LABEL=SERVER[@BIN]...}
connections=${2:?connections}
shift 2
(($# > 0)) || { echo "per_request_rounds.sh: name at least one LABEL=SERVER entry" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
requests=${REQUESTS:-400000}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
    for entry in "$@"; do
        label=${entry%%=*}
        spec=${entry#*=}
        server=${spec%%@*}
        bin=""
        [[ $spec == *@* ]] && bin=${spec#*@}
        line=$(BIN=$bin OUT=$root/target/per_request_rounds \
            "$root/scripts/per_request.sh" "$server" "$connections" cpu "$requests" | tail -1)
        figures=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["cpu_ns_per_request"], d["user_share"])' "$line")
        echo "round $round $label $figures" >&2
        echo "$label $figures" >>"$results"
    done
done
python3 - "$results" "$connections" "$rounds" <<'EOF'
import statistics, sys
path, connections, rounds = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {}
for line in open(path):
    label, ns, user = line.split()
    runs.setdefault(label, []).append((int(ns), float(user)))
first = next(iter(runs))
base = statistics.median(ns for ns, _ in runs[first])
print(f"{connections} connections, {rounds} interleaved rounds, server CPU ns per request:")
print(f"  {'entry':<12} {'median':>7} {'user':>6} {'system':>7}  requests per CPU-second against {first}")
for label, figures in runs.items():
    median = statistics.median(ns for ns, _ in figures)
    user = statistics.median(ns * share for ns, share in figures)
    system = statistics.median(ns * (1 - share) for ns, share in figures)
    print(f"  {label:<12} {median:>7.0f} {user:>6.0f} {system:>7.0f}  {base / median:.3f}x")
print("user and system: medians of each run's split (/proc/PID/stat ticks), so they need not add up to the median")
EOF
