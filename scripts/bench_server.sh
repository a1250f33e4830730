# Sourced by per_request.sh and wrk_profile.sh: what both need to run one of
# the servers of peers/benches/http.rs and read what it spent.

# bench_bin ROOT: the newest build of the HTTP bench under ROOT/target
# (cargo bench --bench http --no-run), or $BIN when it is set.
bench_bin() {
    if [[ -n ${BIN:-} ]]; then
        echo "$BIN"
    else
        ls -t "$1"/target/release/deps/http-* | grep -v '\.d$' | head -1
    fi
}

# server_addr NAME PID STDOUT STDERR: waits up to 60 s for the server PID,
# whose output goes to STDOUT, to print "listening ADDR", and prints ADDR;
# if it exits or the time runs out first, says so with the server's STDERR
# and fails.
server_addr() {
    local name=$1 pid=$2 stdout=$3 stderr=$4 addr=""
    for _ in $(seq 600); do
        addr=$(sed -n 's/^listening //p' "$stdout" 2>/dev/null)
        [[ -n $addr ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $addr ]]; then
        echo "$name: the server did not start" >&2
        cat "$stderr" >&2
        return 1
    fi
    echo "$addr"
}

# server_cpu_ns PID: the CPU time of process PID so far, in ns, summed over
# its threads (/proc/PID/task/*/schedstat): exact, and counting every
# thread (may serves on worker threads, not on the one it started with).
# Printed with %.0f: mawk's %d stops at 2^31 - 1, 2.1 s of CPU.
server_cpu_ns() {
    cat /proc/"$1"/task/*/schedstat | awk '{ ns += $1 } END { printf "%.0f\n", ns }'
}
