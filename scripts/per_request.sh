#!/usr/bin/env bash
# Per-request cost of the HTTP bench's servers, measured on a fixed number
# of requests instead of a fixed time, so that two runs on a noisy machine
# give the same answer.
#
#   scripts/per_request.sh SERVER CONNECTIONS MODE [REQUESTS]
#
#   SERVER       corio | tokio | may | std (the servers of peers/benches/http.rs)
#   CONNECTIONS  keep-alive connections (e.g. 100 or 1000)
#   MODE         cpu       server CPU time per request (/proc/PID/schedstat)
#                          and its user share (/proc/PID/stat), no tracer
#                instr     user-space instructions, data accesses and
#                          simulated cache misses per request (the server
#                          under valgrind's callgrind; the profile is kept)
#                syscalls  system calls per request, by name (strace -c -f)
#                counts    system calls by kind, context switches and CPU
#                          time per request at full speed (perf stat
#                          counting kernel tracepoints: no slowdown, so the
#                          server batches as it does under the load bench)
#                profile   where the CPU time goes (perf record -e cpu-clock -g)
#   REQUESTS     measured requests (default: 1000000 for cpu and profile,
#                20000 for instr and syscalls)
#
# The server is the bench binary re-executed with `--serve SERVER`, pinned
# to CPU 0; the client (scripts/request_client.py) is pinned to CPU 1. The
# client opens every connection and sends a warm-up of requests first; the
# measurement covers exactly the REQUESTS that follow, so accept, spawn and
# start-up are outside it. Output files go to $OUT (default
# target/per_request/SERVER-CONNECTIONS-MODE.*); the last line printed is
# the summary, one JSON object.
#
# Build the bench first: cargo bench --bench http --no-run (BIN=PATH picks
# another build of it, to compare two versions of the code).
set -euo pipefail
# shellcheck source=bench_server.sh
source "$(dirname "$0")/bench_server.sh"
# What the counts mode counts.
export COUNTED=task-clock,context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto

if [[ ${1:-} == hook ]]; then
    # Internal: run by the client between its phases.
    shift
    phase=$1 mode=$2 pid=$3 base=$4
    case $mode/$phase in
        cpu/*|profile/before|profile/after)
            # utime and stime (ticks, the whole process), and the exact
            # run time (ns) summed over its threads.
            awk '{ sub(/.*\) /, ""); split($0, f, " "); printf "%s %s ", f[12], f[13] }' \
                "/proc/$pid/stat" >"$base.$phase"
            server_cpu_ns "$pid" >>"$base.$phase"
            ;;&
        instr/before) callgrind_control -z "$pid" >/dev/null 2>&1 ;;
        instr/after) callgrind_control -d "$pid" >/dev/null 2>&1 ;;
        syscalls/before)
            strace -c -f -p "$pid" -o "$base.strace" 2>/dev/null &
            echo $! >"$base.tracer"
            sleep 1
            ;;
        counts/before)
            perf stat -x, -e "$COUNTED" -p "$pid" -o "$base.counts" 2>/dev/null &
            echo $! >"$base.tracer"
            sleep 1
            ;;
        profile/before)
            perf record -q -e cpu-clock -g -p "$pid" -o "$base.perf" 2>/dev/null &
            echo $! >"$base.tracer"
            sleep 1
            ;;
        syscalls/after|profile/after|counts/after)
            kill -INT "$(cat "$base.tracer")"
            while kill -0 "$(cat "$base.tracer")" 2>/dev/null; do sleep 0.1; done
            ;;
    esac
    exit 0
fi

server=${1:?usage: per_request.sh SERVER CONNECTIONS MODE [REQUESTS]}
connections=${2:?connections}
mode=${3:?mode: cpu, instr, syscalls, counts or profile}
case $mode in
    cpu|profile|counts) requests=${4:-1000000} ;;
    instr|syscalls) requests=${4:-20000} ;;
    *) echo "per_request.sh: unknown mode $mode" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bench_bin "$root")
out=${OUT:-$root/target/per_request}
mkdir -p "$out"
base=$out/$server-$connections-$mode
rm -f "$base".*

ulimit -n "$(ulimit -Hn)"
serve=("$bin" --serve "$server" --server-cpu 0)
if [[ $mode == instr ]]; then
    serve=(valgrind --tool=callgrind --cache-sim=yes --dump-instr=yes --callgrind-out-file="$base.callgrind" "${serve[@]}")
fi
serve=(taskset -c 0 "${serve[@]}")
"${serve[@]}" >"$base.stdout" 2>"$base.stderr" &
launcher=$!
trap 'kill $launcher 2>/dev/null || true' EXIT
addr=$(server_addr per_request.sh "$launcher" "$base.stdout" "$base.stderr")
# The pid that the hooks look at: the server itself (valgrind runs it in
# its own process, so $launcher is the server in every mode).
pid=$launcher

warmup=$((connections * 10))
hook="$0 hook %s $mode $pid $base"
summary=$(taskset -c 1 python3 "$root/scripts/request_client.py" --addr "$addr" \
    --connections "$connections" --warmup "$warmup" --requests "$requests" \
    --before "$(printf "$hook" before)" --after "$(printf "$hook" after)")
kill "$launcher" 2>/dev/null || true
wait "$launcher" 2>/dev/null || true

extra=""
case $mode in
    cpu|profile)
        read -r u0 s0 ns0 <"$base.before"
        read -r u1 s1 ns1 <"$base.after"
        # The split is sampled at the clock tick; the total is exact.
        extra=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v ns=$((ns1 - ns0)) -v n="$requests" \
            'BEGIN { printf ", \"cpu_ns_per_request\": %.0f, \"user_share\": %.3f",
                     ns / n, u / (u + s) }')
        ;;
    instr)
        dump=$base.callgrind.1
        # Every event of the dump's `events:` line, per request: Ir
        # (instructions), Dr / Dw (data reads, writes), and the simulated
        # cache's misses: I1mr D1mr D1mw (first level), ILmr DLmr DLmw (last).
        extra=$(awk -v n="$requests" '
            /^events:/ { for (i = 2; i <= NF; i++) name[i] = $i }
            /^(summary|totals):/ { for (i = 2; i <= NF; i++) total[i] = $i }
            END { for (i = 2; i in name; i++) printf ", \"%s_per_request\": %.1f", name[i], total[i] / n }' "$dump")
        extra="$extra, \"profile\": \"$dump\""
        ;;
    counts)
        # perf stat -x, lines: value,unit,event,...
        extra=$(awk -F, -v n="$requests" '$1 ~ /^[0-9.]+$/ {
                  name = $3; sub(/^.*:(sys_enter_)?/, "", name)
                  if (name == "sys_enter") name = "syscalls"
                  if (name == "task-clock") printf ", \"cpu_ns_per_request\": %.0f", $1 * 1e6 / n
                  else printf ", \"%s_per_request\": %.4f", name, $1 / n }' "$base.counts")
        ;;
    syscalls)
        calls=$(awk '/ total$/ { print $4 }' "$base.strace")
        per=$(awk -v n="$requests" '$NF != "total" && $1 ~ /^[0-9.]+$/ && NF >= 5 {
                  printf "%s\"%s\": %.3f", sep, $NF, $4 / n; sep = ", " }' "$base.strace")
        extra=$(awk -v c="$calls" -v n="$requests" \
            'BEGIN { printf ", \"syscalls_per_request\": %.3f", c / n }')", \"by_name\": {$per}"
        ;;
esac
summary=${summary#\{}
echo "{\"server\": \"$server\", \"mode\": \"$mode\", ${summary%\}}$extra}"
