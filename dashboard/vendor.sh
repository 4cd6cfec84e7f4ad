#!/usr/bin/env bash
# Regenerates static/vendor/ from the npm registry: the dashboard's three
# libraries as ES modules that a browser loads without a build step, each
# with its licence. Run from anywhere; needs npm (only here, never at run
# time or in tests). Changing a version: edit it below, run, commit.
set -euo pipefail
PREACT=11.2.0
HTM=3.1.1
UPLOT=1.6.32

out="$(cd "$(dirname "$0")" && pwd)/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for p in "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT"; do
	name=${p%@*}
	mkdir "$name"
	tar xzf "$(npm pack --silent "$p")" -C "$name" --strip-components=1
done

rm -rf "$out"
mkdir -p "$out"
cp preact/dist/preact.mjs "$out/preact.js"
# Browsers resolve no bare specifiers without an import map, and an inline
# import map would need a CSP exception: point the hooks at the file.
sed 's/from"preact"/from".\/preact.js"/' preact/hooks/dist/hooks.mjs >"$out/hooks.js"
grep -q 'from"./preact.js"' "$out/hooks.js"
cp htm/dist/htm.mjs "$out/htm.js"
# uPlot ships its minified build as an IIFE only: export its one global.
{ cat uplot/dist/uPlot.iife.min.js; printf '\nexport default uPlot;\n'; } >"$out/uplot.js"
cp uplot/dist/uPlot.min.css "$out/uplot.css"
cp preact/LICENSE "$out/LICENSE.preact"
cp htm/LICENSE "$out/LICENSE.htm"
cp uplot/LICENSE "$out/LICENSE.uplot"
cat >"$out/VERSIONS" <<VERSIONS
preact $PREACT  dist/preact.mjs, hooks/dist/hooks.mjs (import of "preact" made relative)  MIT
htm $HTM  dist/htm.mjs  Apache-2.0
uplot $UPLOT  dist/uPlot.iife.min.js (with "export default uPlot" appended), dist/uPlot.min.css  MIT
Regenerate with dashboard/vendor.sh.
VERSIONS
