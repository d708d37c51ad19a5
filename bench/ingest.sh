#!/usr/bin/env bash
# End-to-end ingest and disk benchmark: flowhound collect side by side with
# Debian's nfcapd (nfdump 1.7), both fed the same synthetic NetFlow v9 stream
# (flowhound generate, 28 records per datagram, same seed and flow-time start).
#
#   bench/ingest.sh [RATE ...]        rates in flows/s, e.g. 500k 1M 1.5M (default below)
#
# Environment: REPS (3) runs per cell, SECS (10) seconds of traffic per run,
# DISK_RATE (200k) and DISK_FLOWS (4M) for the disk-only comparison (DISK_FLOWS=0 skips it),
# OUT (bench/results/ingest-DATE) for raw results, FH_EXTRA (extra `collect`
# arguments, e.g. "--config site.toml" to enrich every flow). Needs root (sysctl, apt-get).
#
# Each (rate, collector) cell: fresh data dir, start the collector, send
# SECS*rate flows to it alone, wait 1 s, read peak RSS (VmHWM), CPU time
# (utime+stime, per thread too) and the kernel's socket drops BEFORE stopping it,
# SIGTERM, wait, count the stored flows (nfdump -I / flowhound summary) and the
# bytes on disk. Collectors run one after the other at each rate (nfcapd, then
# flowhound), never both at once, so the sender's work is the same for both.
# The report (medians over REPS) is printed as markdown and kept in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=${REPS:-3}
SECS=${SECS:-10}
DISK_RATE=${DISK_RATE:-200k}
DISK_FLOWS=${DISK_FLOWS:-4M}
SEED=${SEED:-7}
START=${START:-2026-11-26T14:00:00Z}   # flow time of the first flow: same flows every run
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(500k 1M 1.5M 2M 2.5M 3M)
OUT=${OUT:-$ROOT/bench/results/ingest-$(date -u +%Y%m%dT%H%M%SZ)}
WORK=${WORK:-/var/tmp/flowhound-bench}
NF_PORT=29995 FH_PORT=29996 FH_METRICS=29196

num() { # 500k -> 500000, 1.5M -> 1500000
  awk -v s="$1" 'BEGIN{m=1; u=substr(s,length(s)); if(u=="k"||u=="K"){m=1e3; s=substr(s,1,length(s)-1)} else if(u=="M"||u=="m"){m=1e6; s=substr(s,1,length(s)-1)}; printf "%d", s*m}'
}

# --- prerequisites -----------------------------------------------------------
need=()
command -v nfcapd >/dev/null 2>&1 || need+=(nfdump)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "missing: ${need[*]} (run as root, or apt-get install them)" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# What is measured: by default the committed HEAD, exported to $WORK/src (the work
# tree is shared with people editing it; their half-done changes may not build
# or may not be what they mean to measure). FLOWHOUND_SRC=worktree builds the
# work tree in place instead.
mkdir -p "$WORK"
if [ "${FLOWHOUND_SRC:-head}" = worktree ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/flowhound/target}"
  SRC_DESC="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo ' + uncommitted changes in the work tree')"
  cargo build --release -p flowhound
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/flowhound/bench-target}"
  SRC_DESC="$(git rev-parse --short HEAD) (committed HEAD, clean export)"
  rm -rf "$WORK/src"; mkdir -p "$WORK/src"
  git archive HEAD | tar -x -C "$WORK/src"
  (cd "$WORK/src" && cargo build --release -p flowhound)
fi
FH=$CARGO_TARGET_DIR/release/flowhound

old=$(sysctl -n net.core.rmem_max)
if [ "$old" -lt 33554432 ]; then sysctl -qw net.core.rmem_max=33554432; fi
echo "net.core.rmem_max: $old -> $(sysctl -n net.core.rmem_max) (both collectors ask for 32 MiB)"

mkdir -p "$OUT" "$WORK"
CLK=$(getconf CLK_TCK)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, kernel $(uname -r)"
  echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rmem_max: $old -> $(sysctl -n net.core.rmem_max)"
  echo "flowhound: $SRC_DESC"
  echo "nfcapd: $(nfcapd -V 2>&1 | head -1)"
  echo "reps: $REPS, secs: $SECS, seed: $SEED, start: $START"
} | tee "$OUT/machine.txt"

RAW=$OUT/raw.tsv
printf 'phase\trate\tcollector\trep\tsent\tsender_fps\tsender_s\tsender_cpu_s\tstored\tstored_packets\tstored_bytes\trecv_flows\tsock_drops\tcpu_s\tcpu_total_s\thwm_kb\tmaxrss_kb\tdisk_bytes\twal_bytes\tstop_s\tthreads\tload1\n' >"$RAW"

udp_drops() { # kernel drops counter of the socket bound to 127.0.0.1:$1
  awk -v a="$(printf '0100007F:%04X' "$1")" '$2==a{print $NF; f=1} END{if(!f)print "NA"}' /proc/net/udp
}
wait_bound() {
  local a; a=$(printf '0100007F:%04X' "$1")
  for _ in $(seq 100); do awk -v a="$a" '$2==a{f=1} END{exit !f}' /proc/net/udp && return 0; sleep 0.05; done
  echo "collector did not bind 127.0.0.1:$1" >&2; return 1
}
ticks() { sed 's/.*) //' "$1" | awk '{print $12+$13}'; }
threads() { # name=cpu_s per thread, busiest first
  local t
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(ticks "$t/stat")"
  done | awk -v c="$CLK" '{s[$1]+=$2} END{for(n in s) printf "%s=%.2f\n", n, s[n]/c}' | sort -t= -k2 -gr | paste -sd, -
}

# run_cell PHASE RATE FLOWS COLLECTOR REP
run_cell() {
  local phase=$1 rate=$2 flows=$3 coll=$4 rep=$5 dir=$WORK/$4 port pid tpid
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$coll" = nfcapd ]; then
    port=$NF_PORT
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/coll.time" \
      nfcapd -b 127.0.0.1 -p $port -w "$dir" -y -B 33554432 -t 3600 >"$WORK/coll.log" 2>&1 &
  else
    port=$FH_PORT
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/coll.time" \
      "$FH" collect -q --listen 127.0.0.1:$port --data "$dir" -B 32M --metrics 127.0.0.1:$FH_METRICS ${FH_EXTRA:-} >"$WORK/coll.log" 2>&1 &
  fi
  tpid=$!
  for _ in $(seq 100); do pid=$(pgrep -P $tpid || true); [ -n "$pid" ] && break; sleep 0.02; done
  wait_bound $port
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/gen.time" \
    "$FH" generate -q --to 127.0.0.1:$port --proto v9 --rate "$rate" --flows "$flows" \
      --max-datagram 1700 --seed "$SEED" --start "$START" >"$WORK/gen.json"
  sleep 1
  local hwm cpu thr drops recv=NA
  hwm=$(awk '/^VmHWM/{print $2}' /proc/$pid/status)
  cpu=$(awk -v t="$(ticks /proc/$pid/stat)" -v c="$CLK" 'BEGIN{printf "%.2f", t/c}')
  thr=$(threads $pid)
  drops=$(udp_drops $port)
  if [ "$coll" = flowhound ]; then
    curl -s "127.0.0.1:$FH_METRICS/metrics" >"$WORK/metrics.txt" || true
    recv=$(awk '$1=="flowhound_flows_total"{print $2}' "$WORK/metrics.txt")
  fi
  local t0 t1; t0=$(date +%s.%N)
  kill -TERM "$pid"; wait $tpid || { echo "$coll exited with an error:" >&2; tail "$WORK/coll.log" >&2; }
  t1=$(date +%s.%N)
  local stored spk sby disk wal=0
  if [ "$coll" = nfcapd ]; then
    read -r stored spk sby < <(nfdump -R "$dir" -I | awk '$1=="Flows:"{f=$2} $1=="Packets:"{p=$2} $1=="Bytes:"{b=$2} END{print f, p, b}')
    disk=$(find "$dir" -name 'nfcapd.*' -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}')
  else
    read -r stored spk sby < <("$FH" summary -q --data "$dir" -o json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["flows"], r["packets"], r["bytes"])')
    disk=$(du -sb "$dir/flows" | cut -f1)
    wal=$(find "$dir/wal" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END{print s+0}')
  fi
  local sent fps gs gcpu ctot maxrss
  read -r sent fps gs < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["flows"], r["flows_per_s"], r["elapsed_s"])' "$WORK/gen.json")
  gcpu=$(tail -1 "$WORK/gen.time" | awk '{printf "%.2f", $2+$3}')
  read -r ctot maxrss < <(tail -1 "$WORK/coll.time" | awk '{printf "%.2f %d\n", $2+$3, $4}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$phase" "$rate" "$coll" "$rep" "$sent" "$fps" "$gs" "$gcpu" "$stored" "$spk" "$sby" "$recv" "$drops" "$cpu" "$ctot" \
    "$hwm" "$maxrss" "$disk" "$wal" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" "$thr" "$load1" >>"$RAW"
  awk -v s="$sent" -v k="$stored" -v c="$coll" -v r="$rate" -v f="$fps" -v u="$cpu" -v d="$drops" \
    'BEGIN{printf "  %-9s %8s/s asked, %9.0f/s sent, stored %6.2f%%, cpu %5.2fs, kernel drops %s\n", c, r, f, 100*k/s, u, d}'
  rm -rf "$dir"
  sleep 1
}

for r in "${RATES[@]}"; do
  rate=$(num "$r")
  echo "rate $r ($rate flows/s, $((rate * SECS)) flows)"
  for rep in $(seq "$REPS"); do
    for coll in nfcapd flowhound; do
      run_cell ingest "$rate" $((rate * SECS)) $coll "$rep"
    done
  done
done

if [ "$(num "$DISK_FLOWS")" -gt 0 ]; then
  echo "disk: $DISK_FLOWS flows at $DISK_RATE/s"
  for coll in nfcapd flowhound; do
    run_cell disk "$(num "$DISK_RATE")" "$(num "$DISK_FLOWS")" $coll 1
  done
fi
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

python3 "$ROOT/bench/ingest_report.py" "$OUT" | tee "$OUT/report.md"
