#!/usr/bin/env bash
# `flowhound query` side by side with nfdump on the same stored flows.
#
#   bench/query.sh [FLOWS]      (default 4000000; RATE, REPS, FH in the environment)
#
# One generated v9 stream goes, datagram for datagram, to nfcapd and to
# `flowhound collect`; then each query runs REPS times per tool, alternating,
# and the median wall time is printed with the rows' agreement.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-4000000}
RATE=${RATE:-250000}
REPS=${REPS:-7}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/flowhound/target}"
# FH=/path/to/flowhound skips the release build (e.g. a dev-profile binary).
if [ -z "${FH:-}" ]; then
  cargo build --release -q -p flowhound
  FH="$CARGO_TARGET_DIR/release/flowhound"
fi
WORK=$(mktemp -d /var/tmp/fh-query-bench.XXXXXX)
trap 'kill $NFPID $FHPID 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/nf" "$WORK/fh"
nfcapd -b 127.0.0.1 -p 29985 -w "$WORK/nf" -y -B 33554432 -t 3600 >/dev/null 2>&1 &
NFPID=$!
"$FH" collect -q --listen 127.0.0.1:29986 --data "$WORK/fh" -B 32M &
FHPID=$!
sleep 1
"$FH" generate -q --to 127.0.0.1:29985 --to 127.0.0.1:29986 --proto v9 --rate "$RATE" \
  --flows "$FLOWS" --max-datagram 1700 --seed 7 --start 2026-11-26T14:00:00Z >/dev/null
sleep 2
kill -TERM $NFPID $FHPID; wait $NFPID $FHPID 2>/dev/null || true
# One file per hour, as the collector leaves it once the hour has settled.
"$FH" compact --data "$WORK/fh" --grace 0
echo "date: $(date -u +%FT%TZ)  host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "flows: nfdump $(TZ=UTC nfdump -R "$WORK/nf" -I | awk '/^Flows:/{print $2}'), flowhound $("$FH" summary --data "$WORK/fh" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"])')"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }

bench() { # STAT FILTER
  local nf=() fh=()
  for _ in $(seq "$REPS"); do
    nf+=("$(wall nfdump -R "$WORK/nf" -q -N -s "$1" -n 10 "$2")")
    fh+=("$(wall "$FH" query --data "$WORK/fh" -s "$1" -n 10 -o csv "$2")")
  done
  local a b
  a=$(printf '%s\n' "${nf[@]}" | median); b=$(printf '%s\n' "${fh[@]}" | median)
  local rows_nf rows_fh
  rows_nf=$(TZ=UTC nfdump -R "$WORK/nf" -q -N -s "$1" -n 10 -o csv "$2" | awk -F, 'NF==14 && $1!="ts" {print $5","$6","$8","$10}')
  rows_fh=$("$FH" query --data "$WORK/fh" -s "$1" -n 10 -o csv "$2" | awk -F, 'NR>1 {print $3","$4","$5","$6}')
  local same=no; [ "$rows_nf" = "$rows_fh" ] && same=yes
  printf '%-16s %-30s nfdump %6.3f s  flowhound %6.3f s  x%-5.1f identical rows: %s\n' \
    "$1" "'$2'" "$a" "$b" "$(echo "$a / $b" | bc -l)" "$same"
}
bench srcip/flows 'proto tcp and dst port 25'
bench dstip/flows ''
bench dstport/bytes ''
