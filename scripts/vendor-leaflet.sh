#!/usr/bin/env bash
# Re-creates planner/assets/leaflet/ from the pinned Leaflet package on npm: the minified JS with
# its source-map comment removed, the CSS with its images inlined as data: URIs (so the report
# page fetches nothing), and the licence. The result is committed; builds embed it with
# include_str! and never need npm. Run from anywhere: bash scripts/vendor-leaflet.sh
set -euo pipefail
VERSION=1.9.4
INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/planner/assets/leaflet"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack "leaflet@$VERSION" --silent >/dev/null
got="sha512-$(openssl dgst -sha512 -binary "leaflet-$VERSION.tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "vendor-leaflet: leaflet-$VERSION.tgz has integrity $got, expected $INTEGRITY" >&2
  exit 1
fi
tar xzf "leaflet-$VERSION.tgz"
mkdir -p "$out"
grep -v '^//# sourceMappingURL=' package/dist/leaflet.js >"$out/leaflet.js"
css="$(cat package/dist/leaflet.css)"
for img in layers.png layers-2x.png marker-icon.png; do
  uri="data:image/png;base64,$(base64 -w0 "package/dist/images/$img")"
  css="${css//url(images\/$img)/url($uri)}"
done
printf '%s\n' "$css" >"$out/leaflet.css"
cp package/LICENSE "$out/LICENSE"
cat >"$out/README.md" <<MD
# Leaflet $VERSION (vendored)

From the npm package \`leaflet@$VERSION\` (integrity \`$INTEGRITY\`), by
\`scripts/vendor-leaflet.sh\`: \`dist/leaflet.js\` without its source-map comment, \`dist/leaflet.css\`
with \`images/*.png\` inlined as data: URIs, and \`LICENSE\` (BSD 2-Clause, © Volodymyr Agafonkin,
CloudMade). Embedded into \`report.html\` by \`planner/src/render/map.rs\` (include_str!).
MD
echo "vendor-leaflet: wrote $out (leaflet $VERSION)"
