#!/usr/bin/env bash
# Refreshes the console's vendored JavaScript from the npm registry: the page has no build
# step and users need no Node.js, so each library is kept here as the one file the page
# imports, byte for byte as published, beside its licence and a record of where it came from.
#
#   console/web/refresh_vendor.sh            # the pinned versions below
#   DAGRE_VERSION=3.1.4 console/web/refresh_vendor.sh   # move the pin (then commit)
#
# Needs npm (only whoever refreshes; the page and its tests do not).
set -euo pipefail
cd "$(dirname "$0")"

# @dagrejs/dagre: the maintained fork of dagre, the layered graph layout the trace map uses.
# Its ESM build bundles graphlib, so the page imports one file.
DAGRE_VERSION="${DAGRE_VERSION:-3.1.3}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

vendor() {  # vendor <package> <version> <file in the package> <target dir>
    local package="$1" version="$2" file="$3" target="$4"
    (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
    local tarball
    tarball="$(ls "$work"/*.tgz)"
    # npm pack already checked the tarball against the registry's integrity; record it too.
    local integrity
    integrity="$(npm view "$package@$version" dist.integrity)"
    mkdir -p "$work/unpacked" "$target"
    tar -xzf "$tarball" -C "$work/unpacked"
    cp "$work/unpacked/package/$file" "$target/"
    cp "$work/unpacked/package/LICENSE" "$target/LICENSE"
    {
        echo "package: $package"
        echo "version: $version"
        echo "file: $file"
        echo "npm integrity: $integrity"
        echo "sha256: $(sha256sum "$target/$(basename "$file")" | cut -d' ' -f1)"
        echo "licence: $(node -p "require('$work/unpacked/package/package.json').license")"
    } >"$target/VENDORED"
    rm -rf "$work/unpacked" "$tarball"
    echo "vendored $package@$version into $target"
}

vendor @dagrejs/dagre "$DAGRE_VERSION" dist/dagre.esm.js static/vendor/dagre
