#!/bin/sh
# Seed each target's corpus from the real payloads in ../shared/captures:
# every payload becomes one datagram of the length-prefixed sequence the
# targets read, and each template file is also paired with its data files.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../../shared/captures/payloads}
[ -d "$src" ] || { echo "no payloads at $src" >&2; exit 1; }
prefix() { # file... -> stdout: each file with a 2-byte length prefix
    for f in "$@"; do
        n=$(wc -c < "$f")
        [ "$n" -lt 32768 ] || continue
        printf "\\$(printf %03o $((n / 256)))\\$(printf %03o $((n % 256)))"
        cat "$f"
    done
}
for t in v5:netflow5 v9:netflow9 ipfix:ipfix; do
    target=${t%%:*}; glob=${t##*:}
    out=$here/corpus/decode_$target
    mkdir -p "$out"
    for f in "$src"/${glob}*.dat; do
        prefix "$f" > "$out/$(basename "$f" .dat)"
    done
    # Template files followed by the data files of the same exporter.
    for tpl in "$src"/${glob}*tpl*.dat; do
        [ -e "$tpl" ] || continue
        stem=$(basename "$tpl" .dat | sed 's/_\(opt\)\{0,1\}tpl.*//')
        prefix "$tpl" "$src"/"$stem"*data*.dat > "$out/pair_$(basename "$tpl" .dat)" 2>/dev/null || true
    done
    echo "$out: $(ls "$out" | wc -l) seeds"
done
