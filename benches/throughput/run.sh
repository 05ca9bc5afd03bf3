#!/usr/bin/env bash
# The throughput benchmark of issue 2, in one command: builds probity in release, installs
# what it compares against (wrk, GNU time, promptfoo 0.118.0), runs bench.py and writes the
# figures into the "Throughput (issue 2)" section of BENCHMARKS.md. See benches/README.md.
#
#   benches/throughput/run.sh [--rev REV] [--no-update] [--quick] [bench.py options...]
#
#   --rev REV     benchmark that commit (exported with `git archive`) instead of the work tree
#   --no-update   leave BENCHMARKS.md alone (the section is still in out/section.md)
#   --quick       1 repeat, short runs: to try the harness, not to quote
#   anything else goes to bench.py (`bench.py --help`), e.g. --repeats 5 --concurrency 1,64
#
# Output: benches/throughput/out/ (git-ignored): results.json (every run), section.md, logs;
# out/quick/ for --quick.
# CARGO_TARGET_DIR is honoured (default: the repo's target/).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command_line="benches/throughput/run.sh${*:+ $*}"
rev="" update=1 quick=0 extra=()
while (($#)); do
  case "$1" in
    --rev) rev="$2"; shift 2 ;;
    --no-update) update=0; shift ;;
    --quick) extra+=(--repeats 1 --wrk-duration 3 --requests 6000 --promptfoo-requests 120
                     --latency-requests 3000); update=0; quick=1; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done

say() { printf '[run.sh] %s\n' "$*" >&2; }
out="$here/out"
mkdir -p "$out"

# --- tools -----------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
[[ -x /usr/bin/time ]] || need_apt+=(time)
python3 -c 'import yaml' 2>/dev/null || need_apt+=(python3-yaml)
command -v node >/dev/null || need_apt+=(nodejs npm)
if ((${#need_apt[@]})); then
  say "installing ${need_apt[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

promptfoo_version=0.118.0
node_dir="$here/node"
promptfoo="$node_dir/node_modules/.bin/promptfoo"
if [[ "$("$promptfoo" --version 2>/dev/null || true)" != "$promptfoo_version" ]]; then
  say "installing promptfoo $promptfoo_version into $node_dir (npm; git-ignored)"
  mkdir -p "$node_dir"
  printf '{ "name": "probity-bench-promptfoo", "private": true }\n' >"$node_dir/package.json"
  (cd "$node_dir" && npm install --ignore-scripts --no-audit --no-fund "promptfoo@$promptfoo_version" >/dev/null)
  # --ignore-scripts skipped better-sqlite3's native build; build it against this node.
  node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  (cd "$node_dir" && npm rebuild better-sqlite3 --nodedir="$node_prefix" >/dev/null)
fi

# --- probity -----------------------------------------------------------------------------
src="$repo"
if [[ -n "$rev" ]]; then
  commit="$(git -C "$repo" rev-parse --short "$rev^{commit}")"
  src="$out/src-$commit"
  if [[ ! -f "$src/.complete" ]]; then  # kept between runs: same files, no rebuild
    rm -rf "$src" && mkdir -p "$src"
    git -C "$repo" archive "$commit" | tar -x -C "$src"
    touch "$src/.complete"
  fi
else
  commit="$(git -C "$repo" rev-parse --short HEAD)"
  # Uncommitted changes outside benches/ would make the figures those of no commit.
  if [[ -n "$(git -C "$repo" status --porcelain -- . ':!benches' ':!BENCHMARKS.md')" ]]; then
    commit="$commit+uncommitted"
  fi
fi
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
say "building probity $commit in release (target dir $target_dir)"
(cd "$src" && CARGO_TARGET_DIR="$target_dir" cargo build --release --quiet --bin probity)
probity="$target_dir/release/probity"
say "building reqwest-floor (a bare reqwest client, for reference)"
(cd "$here/reqwest-floor" && CARGO_TARGET_DIR="$target_dir" cargo build --release --quiet --locked)
floor="$target_dir/release/reqwest-floor"

# --- the benchmark -------------------------------------------------------------------------
results="$out"
((quick)) && results="$out/quick"  # a try-out never overwrites the figures BENCHMARKS.md cites
args=(--probity "$probity" --commit "$commit" --golden "$src/golden-sets/support.yaml"
      --promptfoo "$promptfoo" --floor "$floor" --out "$results" --command "$command_line")
((update)) && args+=(--benchmarks "$repo/BENCHMARKS.md")
cd "$repo"
exec python3 "$here/bench.py" "${args[@]}" "${extra[@]}"
