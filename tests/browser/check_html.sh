#!/bin/sh
# Manual check (not part of ctest): renders an `audit --screenshots` gallery
# (index.html) and a self-contained `--html` report of a small dataset with
# planted faults in Debian's chromium, headless, and leaves the screenshots
# for a human to look at.
#
#   tests/browser/check_html.sh BUILD_DIR [OUT_DIR]
#
# BUILD_DIR holds app/batchscope; OUT_DIR (default: a new temporary folder)
# receives gallery.png, report.png, overlay.png (the report of the dog/
# folder alone, whose first finding is the Lambda's out-of-range values:
# docs/report.png is made from it) and the exports they were rendered from.
# Needs chromium (apt-get install -y chromium) and /usr/bin/python3 with PIL.
set -eu
BUILD=${1:?usage: check_html.sh BUILD_DIR [OUT_DIR]}
OUT=${2:-$(mktemp -d)}
CLI="$BUILD/app/batchscope"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v chromium >/dev/null || { echo "chromium missing: apt-get install -y chromium" >&2; exit 2; }
mkdir -p "$OUT"

# The file faults of the audit CLI tests, plus a pipeline whose Lambda
# pushes values out of Normalize's range (screenshots with the red overlay).
rm -rf "$OUT/ds"
/usr/bin/python3 "$SRC/tests/audit/make_faults.py" "$OUT/ds"
cat > "$OUT/pipeline.json" <<'JSON'
[{"op": "Resize", "size": 48}, {"op": "CenterCrop", "size": 48}, {"op": "ToTensor"},
 {"op": "Lambda", "expr": "x * 2"},
 {"op": "Normalize", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}]
JSON
"$CLI" audit "$OUT/ds" --pipeline "$OUT/pipeline.json" --workers 1 --quiet --fail-on never \
    --screenshots "$OUT/gallery" --html "$OUT/report.html" --overwrite >/dev/null
"$CLI" audit "$OUT/ds/dog" --pipeline "$OUT/pipeline.json" --workers 1 --quiet --fail-on never \
    --html "$OUT/overlay.html" --shots-per-finding 1 --overwrite >/dev/null

shot() {  # shot FILE.html OUT.png HEIGHT
    profile=$(mktemp -d)
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --hide-scrollbars --screenshot="$2" \
        --window-size=1280,"$3" "file://$1" >/dev/null 2>&1
    rm -rf "$profile"
    test -s "$2" || { echo "chromium wrote no $2" >&2; exit 1; }
}
shot "$OUT/gallery/index.html" "$OUT/gallery.png" 1600
shot "$OUT/report.html" "$OUT/report.png" 1600
shot "$OUT/overlay.html" "$OUT/overlay.png" 1600
echo "look at: $OUT/gallery.png $OUT/report.png $OUT/overlay.png"
