#!/usr/bin/env bash
# The whole rule pack over a stored day, against one top-N query on it.
#
#   bench/detect.sh [FLOWS]      (default 40000000)
#
# Environment: FH (flowhound binary; default the release build, never built
# here), RATE (flows/s sent, default 500000), REPS (runs per command, 5),
# SEED (7), PORT (29970), KEEP=1 keeps the data directory.
#
# One generated v9 stream with every incident (scenario all) spreads FLOWS
# over the 24 hours of 2026-11-26 into `flowhound collect`; the hours are
# merged as a live collector does. Then, REPS times each, alternating:
# `detect` with the built-in pack and a site config, the SMTP top-N
# (`-s srcip/flows 'proto tcp and dst port 25'`) and a full-scan top-N
# (`-s dstip/flows`). Medians and the ratios are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${1:-40000000}
RATE=${RATE:-500000}
REPS=${REPS:-5}
SEED=${SEED:-7}
PORT=${PORT:-29970}
DAY=2026-11-26
FH=${FH:-${CARGO_TARGET_DIR:-target}/release/flowhound}
. bench/side_lib.sh

setup
mkdir -p "$FHD"
# The whole pack runs only with a site that says what is foreign and a
# country registry (mail-quiet-hours, the foreign shares): the real
# registries beside the clone, stored at ingest as a live collector does.
REG=$(cd ../shared/registry 2>/dev/null && pwd) || { echo "../shared/registry is missing" >&2; exit 1; }
cat >"$WORK/site.toml" <<TOML
[site]
internal = ["10.0.0.0/16"]
countries = ["US"]
quiet_hours = "22:00-06:00"
[roles]
mail_servers = ["10.0.0.25"]
[registry]
country = "$REG/geo-whois-asn-country.mmdb"
asn = ["$REG/asn-ipv4.csv", "$REG/asn-ipv6.csv"]
TOML
"$FH" --config "$WORK/site.toml" collect -q --listen "127.0.0.1:$PORT" --data "$FHD" -B 32M 2>>"$WORK/collect.log" &
FHPID=$!
wait_udp "$PORT"
scale=$(echo "scale=6; 86400 * $RATE / $FLOWS" | bc)
s=$(now)
"$FH" generate -q --to "127.0.0.1:$PORT" --proto v9 --rate "$RATE" --flows "$FLOWS" \
  --max-datagram 1700 --seed "$SEED" --start "${DAY}T00:00:00Z" --time-scale "$scale" \
  --scenario all >"$WORK/generate.json"
e=$(now)
sleep 2
kill -TERM "$FHPID"; wait "$FHPID" 2>/dev/null || true; FHPID=
"$FH" compact --data "$FHD" --grace 0 >/dev/null 2>&1
echo "sent $FLOWS flows in $(secs "$(echo "$e - $s" | bc)") s; stored $(fh_flows "$FHD")"

W="2026/11/26.00:00:00-2026/11/27.00:00:00"
det=() smtp=() full=()
for i in $(seq "$REPS"); do
  det+=("$(wall "$FH" --config "$WORK/site.toml" detect -q --data "$FHD" -t "$W" -o json)")
  smtp+=("$(wall "$FH" query --data "$FHD" -t "$W" -s srcip/flows -n 10 'proto tcp and dst port 25')")
  full+=("$(wall "$FH" query --data "$FHD" -t "$W" -s dstip/flows -n 10)")
done
T_DET=$(printf '%s\n' "${det[@]}" | median)
T_SMTP=$(printf '%s\n' "${smtp[@]}" | median)
T_FULL=$(printf '%s\n' "${full[@]}" | median)
ALERTS=$("$FH" --config "$WORK/site.toml" detect -q --data "$FHD" -t "$W" -o json |
  python3 -c 'import json,sys; a=json.load(sys.stdin); print(len(a), sorted({x["rule"] for x in a}))')
echo
echo "| command | median | relative to the SMTP top-N | relative to the full-scan top-N |"
echo "| --- | ---: | ---: | ---: |"
NRULES=$("$FH" detect --list-rules -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "| \`detect\` (built-in pack, $NRULES rules) | $(secs "$T_DET") s | $(ratio "$T_DET" "$T_SMTP")× | $(ratio "$T_DET" "$T_FULL")× |"
echo "| \`query -s srcip/flows 'proto tcp and dst port 25'\` | $(secs "$T_SMTP") s | 1 | |"
echo "| \`query -s dstip/flows\` | $(secs "$T_FULL") s | | 1 |"
SKIPPED=$("$FH" --config "$WORK/site.toml" detect -q --data "$FHD" -t "$W" -o json 2>&1 >/dev/null |
  grep 'did not run' || true)
echo
echo "alerts: $ALERTS"
echo "rules that did not run: ${SKIPPED:-none}"
