#!/usr/bin/env bash
# The full comparison: TcpChan's rows beside the multiplexer peers and raw TCP, same machine,
# same session. Builds TcpChan.Bench in Release, waits for a quiet machine, runs the peers'
# run.sh RUNS times with TcpChan's rows added, then prints spread.sh's medians and a table of
# medians with ratios to dotnet-tcp. See docs/BENCHMARKS.md.
#
#   Bench/compare.sh [PEERS_DIR]        # PEERS_DIR: the peers' folder (default ../shared/peers
#                                       # beside the repository, then /work/shared/peers)
#   RUNS=1 QUIET_WAIT_S=0 Bench/compare.sh
#   RPC_ROUNDS=2000 OPEN_TOTAL=2000 BULK_BYTES=$((1<<28)) FANIN_STREAMS=100 RUNS=1 Bench/compare.sh  # smoke
#   WORKLOADS=mixed RUN_TIMEOUT=300 Bench/compare.sh   # mixed only: TcpChan's rows beside yamux, smux, muxado, raw TCP
#
# Environment: RUNS (3), TCPCHAN_PEERS (all five TcpChan rows), OTHER_PEERS (nerdbank: rows of
# TcpChan.Bench that are not TcpChan's, which run.sh runs only under tcpchan* names: this script
# runs them after each run.sh, with its sizes, timeout and pause, into the same results), QUIET_LOAD (0.7: the 1-minute
# load average to wait for), QUIET_WAIT_S (2400: how long to wait for it, polling every 60 s;
# then it runs anyway and says so), PEERS_BUILD (run.sh's output folder, /tmp/muxpeers), and
# every variable run.sh takes (WORKLOADS, BULK_BYTES, RPC_ROUNDS, MIXED_ROUNDS, RUN_TIMEOUT, ...),
# passed through. With mixed among the workloads it also prints the medians of run.sh's mixed table.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$BENCH_DIR")
PEERS_DIR=${1:-}
if [ -z "$PEERS_DIR" ]; then
  for d in "$REPO/../shared/peers" /work/shared/peers; do
    if [ -x "$d/run.sh" ]; then PEERS_DIR=$d; break; fi
  done
fi
[ -n "$PEERS_DIR" ] && [ -x "$PEERS_DIR/run.sh" ] || { echo "compare.sh: no peers folder with run.sh (pass its path)" >&2; exit 2; }
PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
RUNS=${RUNS:-3}
QUIET_LOAD=${QUIET_LOAD:-0.7}
QUIET_WAIT_S=${QUIET_WAIT_S:-2400}
export PEERS_BUILD=${PEERS_BUILD:-/tmp/muxpeers}
export TCPCHAN_PEERS=${TCPCHAN_PEERS:-"tcpchan tcpchan-sockets tcpchan-tasks tcpchan-pipelines tcpchan-yamux"}
OTHER_PEERS=${OTHER_PEERS:-"nerdbank"}
log() { echo "[compare.sh] $*" >&2; }

log "build TcpChan.Bench (Release)"
dotnet build "$BENCH_DIR/TcpChan.Bench.csproj" -c Release --nologo -v q "-clp:ErrorsOnly;NoSummary" >&2
DLL="$BENCH_DIR/bin/Release/net10.0/TcpChan.Bench.dll"
[ -f "$DLL" ] || { echo "compare.sh: $DLL not built" >&2; exit 1; }
export TCPCHAN_BENCH="dotnet $DLL"

load1() { cut -d' ' -f1 /proc/loadavg; }
wait_quiet() {
  local waited=0
  while awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l >= q) }'; do
    if [ "$waited" -ge "$QUIET_WAIT_S" ]; then
      log "machine still busy after ${waited} s (load $(cut -d' ' -f1-3 /proc/loadavg)): running anyway"
      return
    fi
    log "waiting for a quiet machine: load $(cut -d' ' -f1-3 /proc/loadavg), want < $QUIET_LOAD (${waited}/${QUIET_WAIT_S} s)"
    sleep 60
    waited=$((waited + 60))
  done
  log "machine quiet enough: load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The OTHER_PEERS rows of one run, as run.sh runs a row: the same flags and sizes (run.sh's
# defaults, or the same environment variables), a fresh process per workload bounded by
# RUN_TIMEOUT, its RESULT line appended to that run's results.tsv, 1 s apart.
run_other_peers() {
  local out=$1 p w line logf
  local args=(-bulk-bytes "${BULK_BYTES:-1073741824}" -chunk "${CHUNK:-65536}" -echo-buf "${ECHO_BUF:-32768}"
    -rpc-streams "${RPC_STREAMS:-64}" -rpc-rounds "${RPC_ROUNDS:-20000}" -rpc-size "${RPC_SIZE:-64}"
    -open-total "${OPEN_TOTAL:-20000}" -open-conc "${OPEN_CONC:-16}"
    -fanin-streams "${FANIN_STREAMS:-1000}" -fanin-bytes "${FANIN_BYTES:-1048576}" -timeout-s "${RUN_TIMEOUT:-100}")
  for w in ${WORKLOADS:-bulk rpc open fanin}; do
    [ "$w" = mixed ] && continue
    for p in $OTHER_PEERS; do
      logf="$out/$p-$w.log"
      timeout -k 5 $((${RUN_TIMEOUT:-100} + 15)) $TCPCHAN_BENCH -peer "$p" -workload "$w" "${args[@]}" >"$logf" 2>&1 || true
      line=$(grep '^RESULT ' "$logf" | tail -1 || true)
      [ -n "$line" ] || line="RESULT peer=$p workload=$w value=0 unit=- elapsed_s=0 hwm_mib=0 idle_rss_mib=0 status=crash"
      get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$w" "$(get status)" "$(get value)" "$(get hwm_mib)" "$(get elapsed_s)" "$(get idle_rss_mib)" >>"$out/results.tsv"
      log "$(printf '%-16s %-6s %-8s %12s' "$p" "$w" "$(get status)" "$(get value)")"
      sleep 1
    done
  done
}

dirs=()
for i in $(seq 1 "$RUNS"); do
  wait_quiet
  log "run $i of $RUNS"
  "$PEERS_DIR/run.sh" >&2
  dirs+=("$(ls -td "$PEERS_BUILD"/results/*/ | head -1)")
  run_other_peers "${dirs[-1]}"
  log "load after run $i: $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo "## TcpChan vs peers: $RUNS run(s), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
for d in "${dirs[@]}"; do
  echo "- $(sed -n 's/^host: //p' "$d/table.md")  ($d)"
done
echo "- $(grep '^sizes:' "${dirs[0]}/table.md")"
grep '^mixed:' "${dirs[0]}/table.md" | sed 's/^/- /' || true
echo
"$PEERS_DIR/spread.sh" "${dirs[@]}"
echo
# Medians in run.sh's layout, then each median divided by dotnet-tcp's on the same workload
# (only when one of those four workloads ran).
others=$(for d in "${dirs[@]}"; do cat "$d/results.tsv"; done | awk -F'\t' '$2 != "mixed" { c++ } END { print c + 0 }')
if [ "$others" -gt 0 ]; then
for d in "${dirs[@]}"; do cat "$d/results.tsv"; done | awk -F'\t' '
  $3 == "ok" {
    k = $1 SUBSEP $2; if (!(k in n)) n[k] = 0; v[k, ++n[k]] = $4 + 0
    if ($2 == "fanin") { k = $1 SUBSEP "rss"; v[k, ++n[k]] = $5 + 0; k = $1 SUBSEP "idle"; v[k, ++n[k]] = $7 + 0 }
  }
  { if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 } }
  function med(k,   i, j, t, a, c) {
    c = n[k]; if (!c) return ""
    for (i = 1; i <= c; i++) a[i] = v[k, i]
    for (i = 2; i <= c; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
  }
  function fmt(x) { return x == "" ? "—" : sprintf(x >= 1000 ? "%.0f" : "%.1f", x) }
  function ratio(p, w,   a, b) { a = med(p SUBSEP w); b = med("dotnet-tcp" SUBSEP w); return (a == "" || b == "" || b == 0) ? "—" : sprintf("%.2f", a / b) }
  END {
    print "Medians:"
    print ""
    print "| peer | bulk MiB/s | rpc round trips/s | open streams/s | fanin MiB/s | fanin peak RSS MiB | idle RSS MiB |"
    print "|---|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= np; i++) { p = order[i]
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", p, fmt(med(p SUBSEP "bulk")), fmt(med(p SUBSEP "rpc")), fmt(med(p SUBSEP "open")), fmt(med(p SUBSEP "fanin")), fmt(med(p SUBSEP "rss")), fmt(med(p SUBSEP "idle")) }
    print ""
    print "Ratio of medians to dotnet-tcp, same workload:"
    print ""
    print "| peer | bulk | rpc | open | fanin | fanin peak RSS |"
    print "|---|---:|---:|---:|---:|---:|"
    for (i = 1; i <= np; i++) { p = order[i]
      printf "| %s | %s | %s | %s | %s | %s |\n", p, ratio(p, "bulk"), ratio(p, "rpc"), ratio(p, "open"), ratio(p, "fanin"), ratio(p, "rss") }
  }'
fi
# mixed (WORKLOADS=mixed): medians of each column of run.sh's mixed.tsv over the runs, then the
# p99 under bulk over dotnet-tcp's and over the row's own p99 alone.
mixed=()
for d in "${dirs[@]}"; do [ -s "$d/mixed.tsv" ] && mixed+=("$d/mixed.tsv"); done
if ((${#mixed[@]})); then
  echo
  cat "${mixed[@]}" | awk -F'\t' -v runs="${#mixed[@]}" '
    { if (!($1 in seen)) { seen[$1] = 1; order[++np] = $1 } }
    $2 == "ok" { c = ++n[$1]; for (f = 3; f <= 7; f++) v[$1, f, c] = $f + 0; next }
    { bad[$1]++ }
    function med(p, f,   i, j, t, a, c) {
      c = n[p]; if (!c) return ""
      for (i = 1; i <= c; i++) a[i] = v[p, f, i]
      for (i = 2; i <= c; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
    }
    function fmt(x) { return x == "" ? "—" : sprintf("%.0f", x) }
    function div(a, b) { return (a == "" || b == "" || b == 0) ? "—" : sprintf("%.2f", a / b) }
    END {
      printf "mixed, medians of %d run(s) (run.sh'"'"'s mixed.tsv; µs; p99 under bulk is the value):\n\n", runs
      print "| peer | ok runs | alone p50 µs | alone p99 µs | under bulk p50 µs | under bulk p99 µs | bulk MiB/s meanwhile | p99 under bulk / dotnet-tcp'"'"'s | p99 under bulk / alone |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= np; i++) { p = order[i]
        printf "| %s | %d of %d | %s | %s | %s | %s | %s | %s | %s |\n", p, n[p], n[p] + bad[p], fmt(med(p, 3)), fmt(med(p, 4)), fmt(med(p, 5)), fmt(med(p, 6)), fmt(med(p, 7)), div(med(p, 6), med("dotnet-tcp", 6)), div(med(p, 6), med(p, 4)) }
    }'
fi
