#!/usr/bin/env bash
# SharpFuzz + AFL++ over the core (Fuzz/README.md, "SharpFuzz + AFL++"): builds the fuzzer,
# instruments a copy of TcpChan.Core.dll with the sharpfuzz tool, writes seed files from the
# structure-aware generator, and runs afl-fuzz on the --afl harness for SECONDS.
#   usage: Fuzz/afl.sh [SECONDS] [SEED] [SEEDS_DIR]   (defaults: 300 s, seed 1; run it under nice -n 10)
# SEEDS_DIR (e.g. an earlier run's findings-*/default/queue) replaces the generator's seeds.
# Everything goes to Fuzz/afl/ (git-ignored); the findings folder is printed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-300}
seed=${2:-1}
seeds_in=${3:-}
work=$root/Fuzz/afl
tools=$root/Fuzz/.tools

if ! command -v afl-fuzz >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y afl++ || { apt-get update && apt-get install -y afl++; }
  else
    echo "afl-fuzz is missing and cannot be installed here (needs apt-get as root): install Debian's afl++ package." >&2
    exit 2
  fi
fi

if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0
fi

mkdir -p "$work"
dotnet build "$root/Fuzz/TcpChan.Fuzz.csproj" -c Release -v quiet -nologo
rm -rf "$work/bin" "$work/seeds"
if [ -n "$seeds_in" ]; then
  seeds=$(cd "$seeds_in" && pwd)
else
  # Seeds from the plain build: the instrumented core runs only under the fork server (or --afl).
  seeds=$work/seeds
  dotnet "$root/Fuzz/bin/Release/net10.0/TcpChan.Fuzz.dll" --afl-seeds "$seeds" --seed "$seed" --failures "$work/failures"
fi
cp -r "$root/Fuzz/bin/Release/net10.0" "$work/bin"
"$tools/sharpfuzz" "$work/bin/TcpChan.Core.dll"   # in place: the copy's every basic block now writes AFL's edge map

findings=$work/findings-$(date -u +%Y%m%dT%H%M%S)
# dotnet is not instrumented (the core is, inside it); no core dumps, frequency scaling or
# core binding to set up on a shared machine; the first run JITs, so the fork server may take a while.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
export AFL_FORKSRV_INIT_TMOUT=60000
[ -t 1 ] || export AFL_NO_UI=1
afl-fuzz -V "$seconds" -i "$seeds" -o "$findings" -t 2000 -m none -- dotnet "$work/bin/TcpChan.Fuzz.dll" --afl

stats=$findings/default/fuzzer_stats
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|saved_crashes|saved_hangs) ' "$stats" || true
echo "findings: $findings"
echo "replay the crashes: dotnet run -c Release --project Fuzz -- --replay $findings/default/crashes"
echo "coverage of the corpus (the in-process mode's measure): dotnet run -c Release --project Fuzz -- --coverage --replay $findings/default/queue"
