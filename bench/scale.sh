#!/usr/bin/env bash
# The cost of a query grows with what it reads, not with what is stored.
#
#   bench/scale.sh [FLOWS_PER_DAY]      (default 4000000)
#
# Environment: FH (flowhound binary; default the release build, never built
# here), RATE (flows/s sent, default 500000), REPS (runs per query and tool,
# default 5), PORT (first of two UDP ports, 29970), KEEP=1 keeps the data.
#
# Days 2026-11-01 … 2026-11-10 of generated flows (v9, scenario spambot, seed
# 100+day, FLOWS_PER_DAY spread over the day's 24 hours of flow time) go,
# datagram for datagram, to nfcapd and `flowhound collect`; both collectors are
# restarted for each day (nfcapd into nf/2026/11/DD/, flowhound into one data
# directory). After day 1, day 4 and day 10 (1×, 4×, 10× the data) the same
# queries run REPS times per tool, alternating:
#   a. SMTP senders, top 10, in one hour of day 1 (-t 2026/11/01.14:00-15:00);
#   b. all flows of one host (day 1's median internal source) in day 1;
#   c. SMTP senders, top 10, over everything stored (reads it all: grows).
# nfdump reads all of nf/ with -t (nfcapd names its files by the wall-clock
# time they were written, not by flow time, so -t cannot skip any); the column
# "nfdump, day-1 files" is what an nfdump user does by hand: -R nf/2026/11/01.
set -euo pipefail
cd "$(dirname "$0")/.."
PER_DAY=${1:-4000000}
RATE=${RATE:-500000}
REPS=${REPS:-5}
PORT=${PORT:-29970}
. bench/side_lib.sh

setup

SMTP='proto tcp and dst port 25'
HOUR=2026/11/01.14:00:00-2026/11/01.15:00:00
DAY1=2026/11/01.00:00:00-2026/11/02.00:00:00
nfq() { nfdump -R "$NF" -q -N "$@"; }
nf1() { nfdump -R "$NF/2026/11/01" -q -N "$@"; }
fhq() { "$FH" query --data "$FHD" "$@"; }

load_day() { # D
  local dd
  dd=$(printf '%02d' "$1")
  start_collectors "$NF/2026/11/$dd" "$PORT" "$FHD" "$((PORT + 1))"
  generate "$PER_DAY" "$RATE" "$((100 + $1))" "2026-11-${dd}T00:00:00Z" 86400 "$PORT" "$((PORT + 1))" >"$WORK/generate.json"
  stop_collectors
}

ROWS=() ROWS1=()
measure() { # STAGE DAYS
  local n_nf n_fh b_nf b_fh
  n_nf=$(nf_flows "$NF"); n_fh=$(fh_flows "$FHD")
  b_nf=$(du -sb "$NF" | cut -f1); b_fh=$(du -sb "$FHD/flows" | cut -f1)
  echo
  echo "== stage $1: days 1-$2, flows stored: nfdump $n_nf, flowhound $n_fh (sent $(($2 * PER_DAY)));" \
       "storage nfdump $(numfmt --to=iec "$b_nf"), flowhound $(numfmt --to=iec "$b_fh")"
  [ "$n_nf" = $(($2 * PER_DAY)) ] && [ "$n_fh" = $(($2 * PER_DAY)) ] || echo "WARNING: flows lost, results may disagree"

  local a_nf a_fh b_nf_t b_fh_t c_nf c_fh a1 b1 ag_a ag_b ag_c ag_1
  time_pair nfq -t "$HOUR" -s srcip/flows -n 10 "$SMTP" -- fhq -t "$HOUR" -s srcip/flows -n 10 -o csv "$SMTP"
  a_nf=$T_NF a_fh=$T_FH
  time_pair nfq -t "$DAY1" -o csv "host $MED" -- fhq -t "$DAY1" -n 0 -o csv "host $MED"
  b_nf_t=$T_NF b_fh_t=$T_FH
  time_pair nfq -s srcip/flows -n 10 "$SMTP" -- fhq -s srcip/flows -n 10 -o csv "$SMTP"
  c_nf=$T_NF c_fh=$T_FH
  time_one nf1 -t "$HOUR" -s srcip/flows -n 10 "$SMTP"; a1=$T_ONE
  time_one nf1 -t "$DAY1" -o csv "host $MED"; b1=$T_ONE

  ag_a=$(agree_stat srcip/flows "$SMTP" -t "$HOUR")
  nfq -t "$DAY1" -o csv "host $MED" | nf_list_rows | sort >"$WORK/list.nf"
  fhq -t "$DAY1" -n 0 -o csv "host $MED" | fh_list_rows | sort >"$WORK/list.fh"
  nf1 -t "$DAY1" -o csv "host $MED" | nf_list_rows | sort >"$WORK/list.nf1"
  ag_b=$(agree_list "$WORK/list.nf" "$WORK/list.fh")
  ag_c=$(agree_stat srcip/flows "$SMTP")
  ag_1=$(agree_list "$WORK/list.nf1" "$WORK/list.fh" 3>/dev/null)
  local nb
  nb=$(wc -l <"$WORK/list.fh")

  printf '  a. -t %s -s srcip/flows -n 10 SMTP   nfdump %7.3f s  flowhound %7.3f s  x%-5s agree: %s\n' \
    "${HOUR}" "$a_nf" "$a_fh" "$(ratio "$a_nf" "$a_fh")" "$ag_a"
  printf '  b. -t %s host %s (%s flows)   nfdump %7.3f s  flowhound %7.3f s  x%-5s agree: %s\n' \
    "${DAY1}" "$MED" "$nb" "$b_nf_t" "$b_fh_t" "$(ratio "$b_nf_t" "$b_fh_t")" "$ag_b"
  printf '  c. -s srcip/flows -n 10 SMTP, all stored   nfdump %7.3f s  flowhound %7.3f s  x%-5s agree: %s\n' \
    "$c_nf" "$c_fh" "$(ratio "$c_nf" "$c_fh")" "$ag_c"
  printf '  nfdump -R nf/2026/11/01 (day-1 files only): a. %.3f s  b. %.3f s (same flows as flowhound: %s)\n' "$a1" "$b1" "$ag_1"
  ROWS+=("| $1 | $2 | $n_fh | $(secs "$a_nf") | $(secs "$a_fh") | $(secs "$b_nf_t") | $(secs "$b_fh_t") | $(secs "$c_nf") | $(secs "$c_fh") | $ag_a / ${ag_b%% *} / $ag_c |")
  ROWS1+=("| $1 | $(secs "$a1") | $(secs "$b1") |")
}

echo "loading day 1 ($PER_DAY flows/day at $RATE/s)"
load_day 1
# day 1's median internal source, by flows (ties by address, so the pick is stable)
read -r MED MED_N < <(fhq -t "$DAY1" -s srcip/flows -n 0 -o csv 'src net 10.0.0.0/8' | awk -F, 'NR>1 {print $4, $3}' |
      sort -k1,1n -k2,2 | awk '{a[NR]=$2" "$1} END {print a[int((NR+1)/2)]}')
echo "day 1's median internal source: $MED ($MED_N flows from it)"
measure 1× 1
echo "loading days 2-4"
for d in 2 3 4; do load_day $d; done
measure 4× 4
echo "loading days 5-10"
for d in 5 6 7 8 9 10; do load_day $d; done
measure 10× 10

echo
echo "Markdown:"
echo
echo "$PER_DAY flows a day (v9, scenario spambot, seed 100+day, sent at $RATE flows/s); REPS=$REPS, median wall times in seconds."
echo "a: \`-t $HOUR -s srcip/flows -n 10 '$SMTP'\`;"
echo "b: \`-t $DAY1 'host $MED'\` (flowhound \`-n 0 -o csv\`, nfdump \`-o csv\`; day 1's median internal source);"
echo "c: \`-s srcip/flows -n 10 '$SMTP'\` over everything."
echo "$MACHINE" | sed 's/^/    /'
echo
echo "| stage | days | flows stored | a nfdump | a flowhound | b nfdump | b flowhound | c nfdump | c flowhound | results agree (a / b / c) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${ROWS[@]}"
echo
echo "nfdump told to read only day 1's files (\`-R nf/2026/11/01\`, what the file layout gives an nfdump user):"
echo
echo "| stage | a nfdump | b nfdump |"
echo "| --- | ---: | ---: |"
printf '%s\n' "${ROWS1[@]}"
