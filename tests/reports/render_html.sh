#!/usr/bin/env bash
# Renders an eebench HTML report to PNG with headless Chromium, to look at the chart layout.
#   bash tests/reports/render_html.sh report.html out.png [WIDTHxHEIGHT]
# A manual check; ctest runs the same layout probe (tests/reports/layout_probe.html) in test_reports.
# Exits 0 with a message when chromium is missing; 1 when rendering fails or the PNG is empty.
set -euo pipefail
html=${1:?usage: render_html.sh REPORT.html OUT.png [WIDTHxHEIGHT]}
png=${2:?usage: render_html.sh REPORT.html OUT.png [WIDTHxHEIGHT]}
size=${3:-1200x2000}
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  echo "render_html.sh: chromium not installed (apt-get install chromium); skipped" >&2
  exit 0
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs=$(realpath "$html")
out=$(realpath -m "$png")
# --no-sandbox: containers often lack user namespaces. No network: the report is self-contained.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$profile" --window-size="${size/x/,}" --screenshot="$out" "file://$abs" \
  >"$profile/log" 2>&1 || { cat "$profile/log" >&2; echo "render_html.sh: chromium failed" >&2; exit 1; }
if [[ ! -s "$out" ]]; then
  cat "$profile/log" >&2
  echo "render_html.sh: no screenshot written to $out" >&2
  exit 1
fi
echo "render_html.sh: wrote $out"
