#!/usr/bin/env bash
# Where the HTTP bench's servers spend their CPU under wrk's load, run in
# turn round by round, each profiled while it serves:
#
#   scripts/wrk_profile.sh CONNECTIONS SERVERS [ROUNDS] [SECONDS]
#
#   CONNECTIONS  wrk's keep-alive connections (e.g. 1000)
#   SERVERS      comma-separated servers of peers/benches/http.rs: corio,
#                corio-no-watchdog, tokio, may, std
#   ROUNDS       rounds; each runs every server once (default 3)
#   SECONDS      seconds profiled per run (default 10), after 2 s of load
#                that is not counted
#
# The server is the bench binary re-executed with `--serve SERVER`, pinned
# to CPU 0; wrk (-t1) is pinned to CPU 1. Per run it prints the requests
# wrk completed, the server's CPU time per request (all its threads,
# /proc/PID/task/*/schedstat: exact, but on a shared machine it moves with
# the load), and, from `perf record -e cpu-clock -g` of the server, shares
# of its own samples, which the machine's noise moves far less:
#
#   kernel   the share spent in the kernel;
#   fd refs  the share in fdget and fput: the kernel's look-up of a
#            system call's descriptor. It takes and drops a reference on
#            the socket only when more than one thread shares the process's
#            descriptor table; fput alone is that dropping.
#
# The last lines give each server's median over the rounds. Profiles are
# kept in $OUT (default target/wrk_profile) for `perf report -i`. Build the
# bench first (cargo bench --bench http --no-run); BIN=PATH picks another
# build of it. Needs wrk and perf.
set -euo pipefail
# shellcheck source=bench_server.sh
source "$(dirname "$0")/bench_server.sh"
connections=${1:?usage: wrk_profile.sh CONNECTIONS SERVERS [ROUNDS] [SECONDS]}
servers=${2:?servers, comma-separated}
rounds=${3:-3}
seconds=${4:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bench_bin "$root")
out=${OUT:-$root/target/wrk_profile}
mkdir -p "$out"
for tool in wrk perf; do
    command -v "$tool" >/dev/null || { echo "wrk_profile.sh: needs $tool on the PATH" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)"
# One server's figures, for a run's line and for the medians (which read
# the fields back by position).
row='%-18s %8d requests  %6.0f ns CPU/request  kernel %5.1f %%  fd refs %4.2f %%  fput %4.2f %%\n'

# run SERVER ROUND: one profiled run; prints its line.
run() {
    local server=$1 round=$2 base pid addr
    base=$out/$server-$connections-$round
    rm -f "$base".*
    taskset -c 0 "$bin" --serve "$server" --server-cpu 0 >"$base.stdout" 2>"$base.stderr" &
    pid=$!
    server_pid=$pid
    addr=$(server_addr "wrk_profile.sh: $server" "$pid" "$base.stdout" "$base.stderr")
    taskset -c 1 wrk -t1 -c"$connections" -d2s "http://$addr/" >/dev/null
    perf record -q -e cpu-clock -g -p "$pid" -o "$base.perf" 2>"$base.perf.log" &
    local tracer=$! before after
    sleep 0.5
    before=$(server_cpu_ns "$pid")
    taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" "http://$addr/" >"$base.wrk"
    after=$(server_cpu_ns "$pid")
    kill -INT "$tracer" 2>/dev/null || true
    wait "$tracer" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    server_pid=""
    local requests
    requests=$(awk '/requests in/ { print $1 }' "$base.wrk")
    [[ -n $requests && $requests -gt 0 ]] || { echo "wrk_profile.sh: wrk completed no request" >&2; cat "$base.wrk" >&2; exit 1; }
    perf report -i "$base.perf" --no-children --sort sym -n --stdio -g none 2>/dev/null |
        awk -v server="$server" -v round="$round" -v n="$requests" -v ns=$((after - before)) -v perflog="$base.perf.log" -v row="$row" '
            $1 ~ /%$/ && $2 ~ /^[0-9]+$/ {
                all += $2
                if ($3 == "[k]") kernel += $2
                if ($4 == "fdget" || $4 == "fput") refs += $2
                if ($4 == "fput") fput += $2
            }
            END {
                if (all == 0) { print "wrk_profile.sh: perf recorded no samples of the " server " server (kernel.perf_event_paranoid too high? see " perflog ")" > "/dev/stderr"; exit 1 }
                printf "round %d  " row, round, server, n, ns / n, 100 * kernel / all, 100 * refs / all, 100 * fput / all
            }'
}

echo "HTTP keep-alive under wrk -t1 -c$connections, ${seconds} s profiled per run; server on CPU 0, wrk on CPU 1; $(nproc) CPUs"
lines=$(mktemp)
server_pid=""
# A failed run must not leave its server behind.
trap 'rm -f "$lines"; [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true' EXIT
for round in $(seq "$rounds"); do
    for server in ${servers//,/ }; do
        run "$server" "$round" >>"$lines"
        tail -n 1 "$lines"
    done
done
echo
echo "median of $rounds rounds:"
python3 - "$lines" "$row" ${servers//,/ } <<'EOF'
import statistics, sys
lines, row, servers = sys.argv[1], sys.argv[2].replace("\\n", ""), sys.argv[3:]
runs = [line.split() for line in open(lines)]
for server in servers:
    # Requests, ns CPU/request, kernel, fd refs and fput: the figures of `row`.
    mine = [[float(f[i]) for i in (3, 5, 9, 13, 16)] for f in runs if f[2] == server]
    print("  " + row % (server, *(statistics.median(column) for column in zip(*mine))))
EOF
