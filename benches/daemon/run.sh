#!/usr/bin/env bash
# Daemon benchmark (issue 12): memory of `probity serve` over RUNS scheduled runs (default
# 1,000) and its CPU while idle. Starts the built-in simulator and a daemon with PROBES
# probes (default 10) on `@every 1s`, samples the daemon's RSS (VmRSS) every 2 s until the
# store holds RUNS finished runs, then restarts it with the same probes on `@yearly` and
# measures its CPU (utime + stime from /proc) over IDLE seconds (default 60).
# Usage: benches/daemon/run.sh [--release]   (prints a Markdown section for BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-1000}; PROBES=${PROBES:-10}; IDLE=${IDLE:-60}
profile=debug; [ "${1:-}" = "--release" ] && profile=release
cargo build -q $([ $profile = release ] && echo --release)
BIN=$PWD/target/$profile/probity
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/probes" "$work/golden-sets"
cat > "$work/golden-sets/support.yaml" <<'YAML'
name: support
cases:
  - id: refund-window
    messages: [{ role: user, content: "How long do I have to ask for a refund?" }]
    expect: { contains: ["30 days"], reference: "You can ask for a refund within 30 days of purchase." }
  - id: shipping
    messages: [{ role: user, content: "How long does standard shipping take?" }]
    expect: { contains: ["5 business days"] }
YAML
"$BIN" sim --port 0 --golden "$work/golden-sets" > "$work/sim.out" 2>&1 &
for _ in $(seq 50); do grep -qo 'http://127.0.0.1:[0-9]*' "$work/sim.out" && break; sleep 0.2; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/sim.out" | head -1)
probes() { # $1 = schedule
  for i in $(seq "$PROBES"); do
    cat > "$work/probes/p$i.yaml" <<YAML
name: p$i
schedule: "$1"
samples: 2
target: { provider: openai, base_url: $url/v1, model: sim-model, api_key: "\${BENCH_KEY}" }
golden_sets: [golden-sets/support.yaml]
YAML
  done
}
count_runs() {
  python3 -c "import sqlite3,sys; c=sqlite3.connect('file:$work/.probity/probity.db?mode=ro',uri=True); print(c.execute(\"select count(*) from runs where status!='running'\").fetchone()[0])" 2>/dev/null || echo 0
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

probes "@every 1s"
BENCH_KEY=k "$BIN" -C "$work" serve --listen 127.0.0.1:0 --no-report > "$work/serve.log" 2>&1 &
pid=$!
start=$(date +%s); samples=()
while :; do
  n=$(count_runs); samples+=("$n:$(rss $pid)")
  [ "$n" -ge "$RUNS" ] && break
  [ $(( $(date +%s) - start )) -gt 1800 ] && { echo "timed out at $n runs" >&2; break; }
  sleep 2
done
elapsed=$(( $(date +%s) - start ))
kill -TERM $pid; wait $pid || true

probes "@yearly"
BENCH_KEY=k "$BIN" -C "$work" serve --listen 127.0.0.1:0 --no-report > "$work/idle.log" 2>&1 &
pid=$!
sleep 5
t0=$(cpu_ticks $pid); sleep "$IDLE"; t1=$(cpu_ticks $pid)
idle_rss=$(rss $pid)
kill -TERM $pid; wait $pid || true
hz=$(getconf CLK_TCK)

python3 - "$elapsed" "$t0" "$t1" "$hz" "$IDLE" "$idle_rss" "$profile" "${samples[@]}" <<'PY'
import sys
elapsed, t0, t1, hz, idle, idle_rss, profile = sys.argv[1:8]
pts = [tuple(map(int, s.split(':'))) for s in sys.argv[8:] if s.split(':')[1]]
runs = pts[-1][0]
early = [r for n, r in pts if n >= 50][:5] or [pts[0][1]]
late = [r for n, r in pts][-5:]
peak = max(r for _, r in pts)
cpu = (int(t1) - int(t0)) / int(hz)
print(f"- {runs} runs in {elapsed} s ({profile} build); RSS after the first 50 runs "
      f"{sum(early)/len(early)/1024:.1f} MiB, over the last samples {sum(late)/len(late)/1024:.1f} MiB, "
      f"peak {peak/1024:.1f} MiB (growth {100*(sum(late)/len(late)/(sum(early)/len(early))-1):+.1f}%)")
print("- RSS (MiB) by finished runs: " + ", ".join(
    f"{n}: {r/1024:.1f}" for n, r in pts[:: max(1, len(pts)//10)]))
print(f"- idle ({idle} s, every probe on @yearly): CPU {cpu:.2f} s = {100*cpu/int(idle):.2f}% of one core, RSS {int(idle_rss)/1024:.1f} MiB")
PY
