#!/bin/sh
# Seed the targets' corpora (corpus/<target>/, gitignored) from the real
# captures in ../shared/captures and from the crates' own test cases.
#
#   ./seed.sh [TARGET...]    default: every target
#
# CAPTURES overrides where the captures are (default ../../shared/captures).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
captures=${CAPTURES:-$here/../../shared/captures}
payloads=$captures/payloads

count() { echo "$1: $(ls "$1" | wc -l) seeds"; }

# One byte per argument, given as numbers.
bytes() {
    for b in "$@"; do printf "\\$(printf %03o "$b")"; done
}

# le N WIDTH: N little-endian in WIDTH bytes.
le() {
    le_n=$1 le_i=0
    while [ "$le_i" -lt "$2" ]; do
        bytes $((le_n & 255))
        le_n=$((le_n >> 8)) le_i=$((le_i + 1))
    done
}

prefix() { # file... -> stdout: each file with a 2-byte length prefix
    for f in "$@"; do
        n=$(wc -c < "$f")
        [ "$n" -lt 32768 ] || continue
        bytes $((n / 256)) $((n % 256))
        cat "$f"
    done
}

# decode_v5, decode_v9, decode_ipfix: every payload becomes one datagram of
# the length-prefixed sequence the targets read, and each template file is
# also paired with its data files.
seed_decode() {
    [ -d "$payloads" ] || { echo "no payloads at $payloads" >&2; return 1; }
    target=$1 glob=$2
    out=$here/corpus/decode_$target
    mkdir -p "$out"
    for f in "$payloads"/${glob}*.dat; do
        prefix "$f" > "$out/$(basename "$f" .dat)"
    done
    # Template files followed by the data files of the same exporter.
    for tpl in "$payloads"/${glob}*tpl*.dat; do
        [ -e "$tpl" ] || continue
        stem=$(basename "$tpl" .dat | sed 's/_\(opt\)\{0,1\}tpl.*//')
        prefix "$tpl" "$payloads"/"$stem"*data*.dat > "$out/pair_$(basename "$tpl" .dat)" 2>/dev/null || true
    done
    count "$out"
}

# import_pcap: every capture as it is.
seed_import_pcap() {
    out=$here/corpus/import_pcap
    mkdir -p "$out"
    for dir in "$captures/pcap" "$captures/payloads-as-pcap"; do
        [ -d "$dir" ] || { echo "no captures at $dir" >&2; return 1; }
        find "$dir" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | while read -r f; do
            name=$(echo "${f#"$captures"/}" | tr '/' '_')
            cp "$f" "$out/$name"
            chmod u+w "$out/$name"
        done
    done
    count "$out"
}

# filter_parse: every filter of the golden cases; consecutive `filter` lines
# join into one filter, as tests/golden.rs reads them.
seed_filter_parse() {
    out=$here/corpus/filter_parse
    mkdir -p "$out"
    awk -v out="$out" '
        /^filter( |$)/ { line = substr($0, 8); f = in_f ? f "\n" line : line; in_f = 1; next }
        in_f { n++; printf "%s", f > (out "/slt_" n); close(out "/slt_" n); in_f = 0; f = "" }
        END { if (in_f) { n++; printf "%s", f > (out "/slt_" n) } }
    ' "$root"/crates/flowhound-filter/tests/*.slt
    count "$out"
}

# parse_window: both syntaxes, full and shortened.
seed_parse_window() {
    out=$here/corpus/parse_window
    mkdir -p "$out"
    i=0
    for w in 2026/11/26.14:00:00-2026/11/26.15:00:00 \
        2026-11-26T00:00:00Z/2026-11-27T00:00:00Z \
        2026/11/26 2026/11/26.14 2026/11/26.14:30-2026/11/26.14:59:59 \
        2026-11-26 2026-11-26T10:00:00.250+01:00/2026-11-26T12:00 \
        '  2026/02/29 - 2026/03/01  '; do
        i=$((i + 1))
        printf %s "$w" > "$out/window_$i"
    done
    count "$out"
}

# enrich_config: the configs of the crate's tests (src/config.rs, tests/),
# and a few single-key ones.
seed_enrich_config() {
    out=$here/corpus/enrich_config
    mkdir -p "$out"
    for f in "$root"/crates/flowhound-enrich/src/*.rs "$root"/crates/flowhound-enrich/tests/*.rs; do
        # Raw strings r#"..."# that hold a [site] table.
        awk -v out="$out" -v stem="$(basename "$f" .rs)" '
            /r#"$/ { in_s = 1; s = ""; next }
            in_s && /^"#/ { in_s = 0; if (s ~ /\[site\]/) { n++; printf "%s", s > (out "/" stem "_" n); close(out "/" stem "_" n) } next }
            in_s { s = s $0 "\n" }
        ' "$f"
    done
    i=0
    for c in '[site]\ninternal = ["10.0.0.0/8", "2001:db8::/32", "@internal.txt"]\n' \
        '[site]\ntimezone = "Europe/Zurich"\nquiet_hours = "22:00-06:00"\n' \
        '[site]\ntimezone = "-03:30"\n' \
        '[roles]\nmail_servers = ["10.0.0.25", "10.0.0.0/33"]\n' \
        '[inventory]\nowners = "owners.csv"\n' \
        '[registry]\nasn = "a.csv"\n[registry.update]\nasn = ["https://x/a", "https://x/b"]\n' \
        '[site]\ninternal = []\nintrenal = ["10.0.0.0/8"]\n'; do
        i=$((i + 1))
        printf "$c" > "$out/small_$i"
    done
    count "$out"
}

# wal_segment: segments as the collector writes them (magic, count, data
# length, then per datagram offset, length, exporter, arrival ms, then the
# bytes): each template file with its data files in one batch, and each
# payload in a batch of its own, plus a torn copy.
wal_batch() { # file... -> stdout: one batch record
    total=0
    for f in "$@"; do total=$((total + $(wc -c < "$f"))); done
    le $((0x46484447)) 4
    le $# 4
    le "$total" 4
    at=0
    for f in "$@"; do
        n=$(wc -c < "$f")
        le "$at" 4
        le "$n" 4
        bytes 1 2 0 192 255 255 0 0 0 0 0 0 0 0 0 0 # ::ffff:192.0.2.1
        le 1795651200000 8
        at=$((at + n))
    done
    cat "$@"
}

seed_wal_segment() {
    [ -d "$payloads" ] || { echo "no payloads at $payloads" >&2; return 1; }
    out=$here/corpus/wal_segment
    mkdir -p "$out"
    for tpl in "$payloads"/*tpl*.dat; do
        stem=$(basename "$tpl" .dat | sed 's/_\(opt\)\{0,1\}tpl.*//')
        # shellcheck disable=SC2086
        set -- "$tpl" $(ls "$payloads"/"$stem"*data*.dat 2>/dev/null)
        wal_batch "$@" > "$out/pair_$(basename "$tpl" .dat)"
    done
    for f in "$payloads"/*.dat; do
        [ "$(wc -c < "$f")" -lt 16384 ] || continue
        name=$(basename "$f" .dat)
        { wal_batch "$f"; wal_batch "$f"; } > "$out/$name"
    done
    for f in "$out"/pair_*; do
        n=$(wc -c < "$f")
        head -c $((n - 7)) "$f" > "$out/torn_$(basename "$f")"
    done
    count "$out"
}

# compaction_record: a record as compaction writes it (covers_text in
# crates/flowhound-store/src/layout.rs), one cut short, one naming a path
# instead of a file name, an empty one.
seed_compaction_record() {
    out=$here/corpus/compaction_record
    mkdir -p "$out"
    head='# flowhound compaction: c-1.parquet holds the flows of these files; readers skip them'
    printf '%s\ne0.parquet\ne1.parquet\n# end\n' "$head" > "$out/valid"
    printf '%s\ne0.parquet\n' "$head" > "$out/cut_short"
    printf '%s\ne0.parquet\n../x.parquet\n# end\n' "$head" > "$out/path"
    : > "$out/empty"
    count "$out"
}

# detect_rules: the built-in pack, one rule of it at a time, and
# blocklists in each format detect reads.
seed_detect_rules() {
    out=$here/corpus/detect_rules
    mkdir -p "$out"
    pack=$root/crates/flowhound-detect/rules/builtin.toml
    cp "$pack" "$out/builtin.toml"
    awk -v out="$out" '/^\[\[rule\]\]/ { n++ } n { print > (out "/rule_" n ".toml") }' "$pack"
    printf '; Spamhaus DROP List\n; Expires: never\n192.0.2.0/24 ; SBL000001\n198.51.100.0/25 ; SBL2\n' > "$out/drop.txt"
    printf '{"cidr":"192.0.2.0/24","sblid":"SBL000001","rir":"arin"}\n{"type":"metadata"}\n' > "$out/drop.json"
    printf '10.0.0.1\n2001:db8::/32\n# comment\n\n203.0.113.0/24\n' > "$out/plain.txt"
    count "$out"
}

# desk_config: the built-in notice templates, a full [notify] table and
# [[schedule]] tables.
seed_desk_config() {
    out=$here/corpus/desk_config
    mkdir -p "$out"
    cp "$root"/crates/flowhound-cases/templates/*.txt "$out/"
    cat > "$out/notify.toml" <<'TOML'
[notify]
smtp = "127.0.0.1:25"
starttls = "opportunistic"
user = "flowhound"
password = "secret"
from = "abuse@example.net"
desk = "abuse-desk@example.net"
renotify_after = "24h"
max_notices = 2
resolve_after = "72h"
suspend_command = "/usr/local/bin/suspend"
[cases]
database = "cases.sqlite"
[[schedule]]
report = "smtp"
at = "06:00"
out = "reports"
mail = true
[[schedule]]
cases = "update"
at = "06:30"
TOML
    count "$out"
}

targets=${*:-"decode_v5 decode_v9 decode_ipfix import_pcap filter_parse parse_window enrich_config wal_segment compaction_record detect_rules desk_config"}
for t in $targets; do
    case $t in
        decode_v5) seed_decode v5 netflow5 ;;
        decode_v9) seed_decode v9 netflow9 ;;
        decode_ipfix) seed_decode ipfix ipfix ;;
        import_pcap | filter_parse | parse_window | enrich_config | wal_segment | compaction_record | detect_rules | desk_config) "seed_$t" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
done
