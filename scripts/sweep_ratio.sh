#!/usr/bin/env bash
# How much the headline figure of io_overlap's default run moves from run
# to run: the largest sweep step's threads wall time over the coroutines',
# from RUNS default runs with --json (release build).
#
#   scripts/sweep_ratio.sh [RUNS]        # default 10
#
# Prints one line per run (both modes' wall and CPU ms, the ratio, and the
# wall time of each round of that step), then the median ratio, its range,
# and how many runs reached 2x. A run with a busy_warning or a
# harness_warning on either row says so at the end of its line.
set -euo pipefail
runs=${1:-10}
cd "$(dirname "$0")/.."
cargo build -q --release --example io_overlap
ratios=$(mktemp)
trap 'rm -f "$ratios"' EXIT
for run in $(seq "$runs"); do
    ./target/release/examples/io_overlap --json 2>/dev/null | python3 -c '
import json, sys
run, ratios = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in sys.stdin if line.strip()]
sweep = [r for r in rows if r["sweep"]]
top = max(r["tasks"] for r in sweep)
by_mode = {r["mode"]: r for r in sweep if r["tasks"] == top}
threads, coroutines = by_mode["threads"], by_mode["coroutines"]
ratio = threads["wall_ms"] / coroutines["wall_ms"]
warnings = [w for r in (threads, coroutines) for w in (r["busy_warning"], r["harness_warning"]) if w]
def mode(name, r):
    rounds = "/".join("%.0f" % ms for ms in r["rounds_wall_ms"])
    return "%s %.0f ms wall (rounds %s), %.0f ms CPU" % (name, r["wall_ms"], rounds, r["cpu_ms"])
line = "run %s, %d tasks: %s; %s; ratio %.2f" % (
    run, top, mode("threads", threads), mode("coroutines", coroutines), ratio)
print(line + "".join("; " + w for w in warnings))
open(ratios, "a").write("%.4f\n" % ratio)
' "$run" "$ratios"
done
python3 - "$ratios" <<'EOF'
import statistics, sys
ratios = [float(line) for line in open(sys.argv[1])]
at_least_2 = sum(r >= 2.0 for r in ratios)
print(f"threads' wall time over the coroutines', {len(ratios)} default runs: median "
      f"{statistics.median(ratios):.2f}x, range {min(ratios):.2f}x to {max(ratios):.2f}x; "
      f"{at_least_2} of {len(ratios)} at 2x or more")
EOF
