#!/usr/bin/env bash
# One day of flows, side by side with nfdump.
#
#   bench/day.sh [FLOWS]      (default 40000000)
#
# Environment: FH (flowhound binary; default the release build, never built
# here), RATE (flows/s sent, default 500000), REPS (runs per query and tool,
# default 5), SEED (7), PORT (first of two UDP ports, 29960), KEEP=1 keeps the
# data directory and prints its path.
#
# One generated v9 stream (scenario spambot) spreads FLOWS over the 24 hours of
# 2026-11-26 (flow time) and goes, datagram for datagram, to nfcapd and to
# `flowhound collect`. Then each query runs REPS times per tool, alternating;
# the median wall times, their ratio and whether the results agree are printed,
# then the same as a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-40000000}
RATE=${RATE:-500000}
REPS=${REPS:-5}
SEED=${SEED:-7}
PORT=${PORT:-29960}
DAY=2026-11-26
. bench/side_lib.sh

setup
echo "sending $FLOWS flows at $RATE/s over $DAY (flow time) to nfcapd :$PORT and flowhound :$((PORT + 1))"
start_collectors "$NF" "$PORT" "$FHD" "$((PORT + 1))"
s=$(now)
generate "$FLOWS" "$RATE" "$SEED" "${DAY}T00:00:00Z" 86400 "$PORT" "$((PORT + 1))" >"$WORK/generate.json"
e=$(now)
stop_collectors
echo "sent in $(secs "$(echo "$e - $s" | bc)") s"

n_nf=$(nf_flows "$NF"); n_fh=$(fh_flows "$FHD")
echo "flows stored: nfdump $n_nf, flowhound $n_fh (sent $FLOWS); flowhound flow time $(fh_range "$FHD")"
[ "$n_nf" = "$FLOWS" ] && [ "$n_fh" = "$FLOWS" ] || echo "WARNING: flows lost, results may disagree"
b_nf=$(du -sb "$NF" | cut -f1); b_fh=$(du -sb "$FHD/flows" | cut -f1); b_fh_all=$(du -sb "$FHD" | cut -f1)
STORAGE="nfdump $(numfmt --to=iec "$b_nf") ($(echo "scale=1; $b_nf / $n_nf" | bc) B/flow, $(find "$NF" -name 'nfcapd.2*' | wc -l) files),"
STORAGE+=" flowhound $(numfmt --to=iec "$b_fh") ($(echo "scale=1; $b_fh / $n_fh" | bc) B/flow, $(find "$FHD/flows" -name '*.parquet' | wc -l) Parquet files;"
STORAGE+=" $(numfmt --to=iec "$b_fh_all") with WAL and books)"
echo "storage: $STORAGE"

nfq() { nfdump -R "$NF" -q -N "$@"; }
fhq() { "$FH" query --data "$FHD" "$@"; }

# --- the hosts, picked from the data -----------------------------------------
SMTP='proto tcp and dst port 25'
read -r BOT BOT_N < <(fhq -s srcip/flows -n 1 -o csv "$SMTP" | awk -F, 'NR==2 {print $3, $4}')
# median internal source by flows (ties by address, so the pick is stable)
read -r MED MED_N < <(fhq -s srcip/flows -n 0 -o csv 'src net 10.0.0.0/8' | awk -F, 'NR>1 {print $4, $3}' |
      sort -k1,1n -k2,2 | awk '{a[NR]=$2" "$1} END {print a[int((NR+1)/2)]}')
# a rarely seen external peer: a destination with 5-20 flows, nearest 10
read -r RARE RARE_N < <(fhq -s dstip/flows -n 0 -o csv 'not dst net 10.0.0.0/8' |
       awk -F, 'NR>1 {d=$4-10; if (d<0) d=-d; print d, $3, $4}' | sort -k1,1n -k2,2 | awk 'NR==1 {print $2, $3}')
echo "hosts: spam bot (top SMTP sender, $BOT_N SMTP flows) $BOT, median internal source ($MED_N flows from it) $MED," \
     "rare external peer ($RARE_N flows to it) $RARE"
echo

ROWS=()   # Markdown rows
line() { # QUERY NOTE AGREE  (uses T_NF, T_FH)
  printf '%-58s nfdump %8.3f s  flowhound %8.3f s  x%-6s %s\n' "$1" "$T_NF" "$T_FH" "$(ratio "$T_NF" "$T_FH")" "$3"
  ROWS+=("| \`$1\` | $2 | $(secs "$T_NF") | $(secs "$T_FH") | $(ratio "$T_NF" "$T_FH") | $3 |")
}

stat() { # STAT FILTER NOTE
  time_pair nfq -s "$1" -n 10 "$2" -- fhq -s "$1" -n 10 -o csv "$2"
  line "-s $1 -n 10 '$2'" "$3" "$(agree_stat "$1" "$2")"
}

listing() { # HOST NOTE
  time_pair nfq -o csv "host $1" -- fhq -n 0 -o csv "host $1"
  nfq -o csv "host $1" | nf_list_rows | sort >"$WORK/list.nf"
  fhq -n 0 -o csv "host $1" | fh_list_rows | sort >"$WORK/list.fh"
  local cb agree
  cb=$(count_bytes <"$WORK/list.fh"); LIST_N=${cb%,*}
  agree="$(agree_list "$WORK/list.nf" "$WORK/list.fh")"
  [ "$agree" = yes ] && agree="yes: the same ${cb%,*} flows, ${cb#*,} bytes"
  line "host $1" "$2" "$agree"
}

stat srcip/flows "$SMTP" "SMTP senders"
listing "$BOT" "one host, all day: the spam bot ($BOT_N SMTP flows)"
listing "$MED" "one host, all day: median internal source ($MED_N flows from it)"
MED_LIST_N=$LIST_N
listing "$RARE" "one host, all day: rare external peer ($RARE_N flows to it)"
time_one "$FH" host "$MED" --data "$FHD" -o json
out_in=$("$FH" host "$MED" --data "$FHD" -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["out"]["flows"] + d["in"]["flows"])')
[ "$out_in" = "$MED_LIST_N" ] && out_in+=" (= the listing)" || out_in+=" (listing: $MED_LIST_N)"
printf '%-58s nfdump        —    flowhound %8.3f s           flows out+in: %s\n' "flowhound host $MED -o json" "$T_ONE" "$out_in"
ROWS+=("| \`flowhound host $MED -o json\` | the median host's story (no nfdump equivalent) | — | $(secs "$T_ONE") | — | flows out+in: $out_in |")
stat dstip/flows '' "top destinations"
stat dstport/bytes '' "top destination ports by bytes"

echo
echo "Markdown:"
echo
echo "$FLOWS flows over one day of flow time ($DAY), v9, seed $SEED, sent at $RATE flows/s; REPS=$REPS, median wall times."
echo "$MACHINE" | sed 's/^/    /'
echo
echo "Storage: $STORAGE."
echo
echo "| query | what | nfdump (s) | flowhound (s) | nfdump ÷ flowhound | results agree |"
echo "| --- | --- | ---: | ---: | ---: | --- |"
printf '%s\n' "${ROWS[@]}"
