#!/usr/bin/env bash
# Regenerates docs/results/*.md: every figure README.md and docs/ quote.
#
#   scripts/results.sh                 # everything (about 32 minutes on 2 cores; http_watchdog alone takes 8)
#   scripts/results.sh switch_costs    # only the results whose name contains this
#
# Each file holds one command's output as it printed it, under a stamp:
# when, which code (the last commit that changed src/, examples/, peers/
# or Cargo.toml, and whether the tree differed from it), the CPU, the core
# count, the load average before and after, and the compiler. The docs
# quote these files; tests/docs_numbers.rs checks that README's table does.
# Release builds throughout (and panic_room once more in debug). The HTTP bench needs wrk (apt-get install wrk);
# without it that file says it used corio's own load generator.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/results
mkdir -p "$out"
only="${1:-}"

code_commit() {
    local commit
    commit=$(git log -1 --format=%h -- src examples peers Cargo.toml 2>/dev/null || echo unknown)
    if ! git diff --quiet HEAD -- src examples peers Cargo.toml 2>/dev/null; then
        commit="$commit with uncommitted changes"
    fi
    echo "$commit"
}

cpu_model() {
    grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //' || echo unknown
}

# result NAME COMMAND...: runs COMMAND, writes docs/results/NAME.md.
result() {
    local name=$1
    shift
    if [[ -n "$only" && "$name" != *"$only"* ]]; then
        return
    fi
    echo "== $name: $*" >&2
    local file="$out/$name.md" tmp
    tmp=$(mktemp)
    local load_before started
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    started=$(date -u '+%Y-%m-%d %H:%M UTC')
    "$@" >"$tmp" 2>/dev/null
    {
        echo "# $name"
        echo
        echo "Written by \`scripts/results.sh\`; do not edit by hand."
        echo
        echo "- command: \`$*\`"
        echo "- date: $started"
        echo "- code: commit $(code_commit)"
        echo "- machine: $(cpu_model), $(nproc) CPUs, Linux $(uname -r)"
        echo "- load average (1, 5, 15 min): $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
        echo "- compiler: $(rustc --version)"
        echo
        echo '```text'
        cat "$tmp"
        echo '```'
    } >"$file"
    rm -f "$tmp"
}

# first_build builds in fresh clones of its own; everything else shares
# one release build made here.
if [[ "$only" != first_build ]]; then
    cargo build --release --examples --benches >&2
fi

result first_build           scripts/first_build.sh io_overlap 3
result io_overlap            cargo run -q --release --example io_overlap
result io_overlap_cpus1      cargo run -q --release --example io_overlap -- --cpus 1
# How far the default run's headline ratio (threads over coroutines at
# 10,000 io tasks) moves: ten default runs.
result io_overlap_ratio      scripts/sweep_ratio.sh 10
# What a newcomer runs first: the debug build, defaults (its last line is
# the whole run's time, which README quotes).
result io_overlap_debug      cargo run -q --example io_overlap
result switch_costs          cargo run -q --release --example switch_costs
result switch_costs_cpus1    cargo run -q --release --example switch_costs -- --cpus 1 --only pingpong,yield,ctx
result yield_peers_3_runs    bash -c 'for run in 1 2 3; do echo "run $run:"; cargo run -q --release --example switch_costs -- --only corio_yield,tokio_yield,may_yield | grep -A5 "^handoffs"; done'
# A yield under Schedule::Random beside FIFO's, in the same run.
result schedule_cost         cargo run -q --release --example switch_costs -- --only corio_yield
result explore               cargo run -q --release --example explore -- --out "${TMPDIR:-/tmp}/corio-explore.html"
result who_owns_memory       cargo run -q --release --example who_owns_memory
result sync_async            cargo run -q --release --example sync_async
result threads_and_coroutines cargo run -q --release --example threads_and_coroutines
result trace_cost            cargo run -q --release --example trace_cost
result yield_instructions    scripts/instructions.sh
result spawn_scale           cargo run -q --release --example spawn_scale -- --rounds 11
result timers                cargo run -q --release --example timers
result timer_structures      cargo run -q --release --example timers -- --structures
result panic_room            cargo run -q --release --example panic_room
# Debug too: frames are larger there, and the tests run debug builds.
result panic_room_debug      cargo run -q --example panic_room
# stdout and stderr together, in the order printed: the example's figures
# and, between them, corio's own stall reports. Stdin from /dev/null, so the
# stdin case is skipped (it waits for a line typed at a terminal).
result stalls                bash -c 'cargo run -q --release --example stalls </dev/null 2>&1'
result fs_cost               cargo run -q --release --example fs_cost
result echo                  cargo bench -q --bench echo
result http                  cargo bench -q --bench http -- --rounds 5
# Where the HTTP servers' CPU goes at 100 and 1,000 connections: shares of
# each server's own profile, among them the descriptor reference counting
# that a second thread (corio's stall watchdog) costs every system call.
result http_watchdog         bash -c 'for c in 100 1000; do scripts/wrk_profile.sh $c corio,corio-no-watchdog,tokio 5; echo; done'
echo "wrote $out/" >&2
