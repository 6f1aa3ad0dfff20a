#!/bin/sh
# Opens the inspector on the built-in demo dataset, or, where no display
# exists, says so and runs the headless audit of the same dataset instead.
BIN="$1"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "$DISPLAY" ] || [ -n "$WAYLAND_DISPLAY" ]; then
    exec "$BIN"
fi
echo "No display found (DISPLAY is unset): running the headless audit of the demo dataset instead."
"$BIN" audit "$ROOT/resources/demo" --pipeline "$ROOT/resources/demo-pipeline.json" --fail-on never
