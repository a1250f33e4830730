#!/usr/bin/env bash
# Writes the offline trace viewer's pages from real runs and screenshots
# them headless in Chromium (Debian package `chromium`):
#
#   scripts/timeline.sh            # docs/img/timeline.png, docs/results/trace_viewer.md,
#                                  # and target/timeline/*.html
#
# - target/timeline/service.html: the trace_viewer example's loopback
#   service (clients, handlers, a lock, a 1 ms backend, a channel);
#   its screenshot is docs/img/timeline.png.
# - target/timeline/million.html: the same after a million-event ring of
#   yields, screenshot target/timeline/million.png (is it still drawn?).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/timeline
mkdir -p "$out" docs/img
cargo build -q --release --example trace_viewer
./target/release/examples/trace_viewer --out "$out/service.html"
command="cargo run -q --release --example trace_viewer -- --events 1000000 --out $out/million.html"
printed=$($command)
echo "$printed"
{
    echo "# trace_viewer"
    echo
    echo "Written by \`scripts/timeline.sh\`; do not edit by hand."
    echo
    echo "- command: \`$command\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- code: commit $(git log -1 --format=%h -- src examples)"
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs"
    echo
    echo '```text'
    echo "$printed"
    echo '```'
} >docs/results/trace_viewer.md
shot() { # PAGE PNG
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1400,800 --virtual-time-budget=20000 \
        --screenshot="$2" "file://$PWD/$1" 2>/dev/null
    echo "screenshot of $1: $2"
}
shot "$out/service.html" docs/img/timeline.png
shot "$out/million.html" "$out/million.png"
