# Helpers shared by bench/day.sh and bench/scale.sh (sourced, not run).
#
# Both scripts compare `flowhound` with nfdump on the same flows: one generated
# stream is sent, datagram for datagram, to nfcapd and to `flowhound collect`.
# Nothing here builds anything: FH must name an existing flowhound binary.

export TZ=UTC   # nfdump prints and parses -t in local time; flowhound in UTC

FH=${FH:-${CARGO_TARGET_DIR:-/var/cache/flowhound/target}/release/flowhound}
if [ ! -x "$FH" ]; then
  echo "no flowhound binary at $FH: build one (cargo build --release -p flowhound)" \
       "or set FH=/path/to/flowhound" >&2
  exit 1
fi
for tool in nfdump nfcapd bc ss; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

NFPID= FHPID= GENPID=
WORK=
# setup: a work directory removed on exit (see cleanup), fd 3 for progress
# lines, the two tools' data directories, and the machine line printed.
setup() {
  WORK=$(mktemp -d /var/tmp/fh-bench.XXXXXX)
  trap cleanup EXIT
  trap "exit 130" INT TERM
  exec 3>&1
  NF="$WORK/nf" FHD="$WORK/fh"
  MACHINE=$(machine)
  echo "$MACHINE"
}
# cleanup: stop the collectors we started; remove the data unless KEEP=1.
cleanup() {
  local pid
  if [ -n "$GENPID" ]; then kill -TERM "$GENPID" 2>/dev/null || true; fi
  for pid in $NFPID $FHPID; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $NFPID $FHPID; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$WORK" ]; then
    if [ "${KEEP:-0}" = 1 ]; then
      echo "data kept in $WORK (nfdump: $WORK/nf, flowhound: $WORK/fh)" >&2
    else
      rm -rf "$WORK"
    fi
  fi
}

# wait_udp PORT: until something listens on 127.0.0.1:PORT/udp (at most 10 s).
wait_udp() {
  local i
  for i in $(seq 100); do
    [ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  echo "nothing listens on udp port $1" >&2
  return 1
}

# start_collectors NFDIR NFPORT FHDIR FHPORT  (NFDIR must be absolute: nfcapd -w)
start_collectors() {
  mkdir -p "$1" "$3"
  nfcapd -b 127.0.0.1 -p "$2" -w "$1" -y -B 33554432 -t 3600 >"$WORK/nfcapd.log" 2>&1 &
  NFPID=$!
  "$FH" collect -q --listen "127.0.0.1:$4" --data "$3" -B 32M 2>>"$WORK/collect.log" &
  FHPID=$!
  wait_udp "$2"; wait_udp "$4"
}

# stop_collectors: SIGTERM both; each writes what it holds and exits. Then
# flowhound's hours are merged into one file each, as a live collector does
# ten minutes after an hour ends (nfcapd -t 3600 wrote one file per hour of
# wall time, so this replay left it a single file).
stop_collectors() {
  sleep 2   # the last datagrams are in the socket buffers
  kill -TERM "$NFPID" "$FHPID"
  wait "$NFPID" 2>/dev/null || true
  wait "$FHPID" 2>/dev/null || true
  NFPID= FHPID=
  "$FH" compact --data "$FHD" --grace 0 2>&1 | sed 's/^/flowhound compact: /' >&3
}

# generate FLOWS RATE SEED START SECONDS_OF_FLOW_TIME NFPORT FHPORT
# Spreads FLOWS over SECONDS_OF_FLOW_TIME starting at START (ISO 8601).
generate() {
  local scale
  scale=$(echo "scale=6; $5 * $2 / $1" | bc)
  "$FH" generate -q --to "127.0.0.1:$6" --to "127.0.0.1:$7" --proto v9 --rate "$2" \
    --flows "$1" --max-datagram 1700 --seed "$3" --start "$4" --time-scale "$scale" \
    --scenario spambot &
  GENPID=$!
  wait "$GENPID"   # (in the background so that a signal stops the run at once)
  GENPID=
}

nf_flows() { nfdump -R "$1" -I | awk '/^Flows:/ {print $2}'; }
fh_flows() { "$FH" summary --data "$1" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["flows"])'; }
fh_range() { "$FH" summary --data "$1" -o json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["first"], "..", d["last"])'; }

machine() {
  echo "date: $(date -u +%FT%TZ)  host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "flowhound: $FH ($("$FH" --version))  nfdump: $(nfdump -V 2>&1 | head -1)"
}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wall CMD…: seconds CMD takes, its output discarded (it must succeed).
wall() {
  local s e
  s=$(now); "$@" >/dev/null; e=$(now)
  echo "$e - $s" | bc
}

# time_pair NF_CMD… -- FH_CMD…: REPS runs of each, alternating; sets T_NF, T_FH
# (medians, seconds).
time_pair() {
  local nfc=() fhc=() seen=0 a
  for a in "$@"; do
    if [ $seen = 0 ] && [ "$a" = -- ]; then seen=1; continue; fi
    if [ $seen = 0 ]; then nfc+=("$a"); else fhc+=("$a"); fi
  done
  local nf=() fh=() i
  for i in $(seq "$REPS"); do
    nf+=("$(wall "${nfc[@]}")")
    fh+=("$(wall "${fhc[@]}")")
  done
  T_NF=$(printf '%s\n' "${nf[@]}" | median)
  T_FH=$(printf '%s\n' "${fh[@]}" | median)
}

# time_one CMD…: REPS runs; sets T_ONE (median, seconds).
time_one() {
  local t=() i
  for i in $(seq "$REPS"); do t+=("$(wall "$@")"); done
  T_ONE=$(printf '%s\n' "${t[@]}" | median)
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = a / b; printf (r < 1 ? "%.2f" : "%.1f"), r}'; }
secs() { printf '%.3f' "$1"; }

# Rows of a statistic, as value,flows,packets,bytes in order.
nf_stat_rows() { awk -F, 'NF==14 && $1!="ts" {print $5","$6","$8","$10}'; }
fh_stat_rows() { awk -F, 'NR>1 {print $3","$4","$5","$6}'; }

# Flows of a listing, one line each: start (to the second),src,dst,sport,dport,packets,bytes.
nf_list_rows() { awk -F, '{print substr($1,1,19)","$4","$5","$6","$7","$12","$13}'; }
fh_list_rows() {
  awk -F, 'NR==1 {for (i=1; i<=NF; i++) c[$i]=i; next}
           {print substr($c["time_start"],1,19)","$c["src_ip"]","$c["dst_ip"]","$c["src_port"]","$c["dst_port"]","$c["packets"]","$c["bytes"]}'
}
# count,bytes of listing rows (from *_list_rows).
count_bytes() { awk -F, '{n++; b+=$7} END {printf "%d,%.0f\n", n, b}'; }

# agree_stat STAT[/ORDER] FILTER [OPTION…]: do nfq and fhq (the caller's
# functions running nfdump and flowhound query on the same flows) give the same
# top 10? Prints "yes", "yes (ties reordered)" (then the whole statistics,
# -n 0, are identical and each top 10 is a valid top 10 of them) or "no";
# differences go to fd 3 (the terminal: exec 3>&1 in the script).
agree_stat() {
  local stat=$1 filter=$2 order
  shift 2
  order=${stat#*/}; [ "$order" = "$stat" ] && order=flows; order=${order%%/*}
  nfq "$@" -s "$stat" -n 10 -o csv "$filter" | nf_stat_rows >"$WORK/top.nf"
  fhq "$@" -s "$stat" -n 10 -o csv "$filter" | fh_stat_rows >"$WORK/top.fh"
  if [ -s "$WORK/top.nf" ] && cmp -s "$WORK/top.nf" "$WORK/top.fh"; then echo yes; return; fi
  nfq "$@" -s "$stat" -n 0 -o csv "$filter" | nf_stat_rows >"$WORK/all.nf"
  fhq "$@" -s "$stat" -n 0 -o csv "$filter" | fh_stat_rows >"$WORK/all.fh"
  local verdict
  verdict=$(python3 bench/side_compare.py "$order" "$WORK/top.nf" "$WORK/top.fh" "$WORK/all.nf" "$WORK/all.fh" 2>&3)
  if [ "$verdict" = no ]; then
    echo "    top 10 of -s $stat $* '$filter', nfdump (<) vs flowhound (>):" >&3
    diff "$WORK/top.nf" "$WORK/top.fh" | sed 's/^/    /' | head -24 >&3
  fi
  echo "$verdict"
}

# agree_list FILE_NF FILE_FH (sorted *_list_rows): "yes" or "no (N vs M flows)",
# differences to fd 3.
agree_list() {
  if cmp -s "$1" "$2"; then echo yes; return; fi
  echo "    flows of the listing, nfdump (<) vs flowhound (>):" >&3
  diff "$1" "$2" | sed 's/^/    /' | head -12 >&3
  echo "no ($(wc -l <"$1") vs $(wc -l <"$2") flows)"
}
