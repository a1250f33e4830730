#!/usr/bin/env bash
# What a newcomer's first build compiles, and how long it takes: a fresh
# clone of this repository's HEAD (committed changes only), an empty target
# directory, `cargo build --example EXAMPLE` (io_overlap unless given),
# repeated RUNS times (3 unless given), each in a new clone.
#
#   scripts/first_build.sh                  # io_overlap, 3 runs
#   scripts/first_build.sh io_overlap 1     # one run
#
# Crates are downloaded first (`cargo fetch`, not timed), so the times are
# compilation alone. Each run prints the load average before it: the
# machine may be shared, and a busy one builds slower.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
example="${1:-io_overlap}"
runs="${2:-3}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "first_build.sh: RUNS must be a whole number of at least 1, not '$runs'" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
commit=$(git -C "$root" rev-parse --short HEAD)
(cd "$root" && cargo fetch -q)

echo "cargo build --example $example: fresh clone of $commit, empty target directory, crates already downloaded"
echo "(CPU: user + system seconds of every compiler process, less sensitive than wall time to a busy machine)"
echo
printf '%-4s %-7s %-9s %-8s %s\n' run crates "wall (s)" "CPU (s)" "load average (1, 5, 15 min) before"
walls=()
cpus=()
TIMEFORMAT='%R %U %S'
for run in $(seq 1 "$runs"); do
    clone="$work/corio-$run"
    git clone -q "$root" "$clone"
    git -C "$clone" checkout -q "$commit"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # CARGO_TARGET_DIR from the caller's environment would reuse a full
    # target directory; the clone's own is empty.
    if ! { time (cd "$clone" && env -u CARGO_TARGET_DIR cargo build --example "$example" 2>"$work/build-$run.log"); } 2>"$work/time-$run"; then
        tail -20 "$work/build-$run.log" >&2
        echo "first_build.sh: cargo build --example $example failed in a fresh clone (its last lines are above)" >&2
        exit 1
    fi
    read -r wall user system <"$work/time-$run"
    cpu=$(awk -v u="$user" -v s="$system" 'BEGIN {print u + s}')
    crates=$(grep -c '^ *Compiling ' "$work/build-$run.log")
    walls+=("$wall")
    cpus+=("$cpu")
    printf '%-4s %-7s %-9.1f %-8.1f %s\n' "$run" "$crates" "$wall" "$cpu" "$load"
    rm -rf "$clone"
done

median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
echo
printf 'median over %d runs: wall %.1f s, CPU %.1f s\n' "$runs" "$(median "${walls[@]}")" "$(median "${cpus[@]}")"
echo "crates compiled (last run): $(grep '^ *Compiling ' "$work/build-$runs.log" | awk '{print $2}' | sort | tr '\n' ' ')"
