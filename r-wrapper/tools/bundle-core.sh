#!/bin/sh
# Copy the Python core into the R package (inst/core) so that a tarball built afterwards
# (R CMD build r-wrapper) carries it: install_synthcontrol() then installs this exact core, with
# no checkout and no PyPI release needed.  Usage: tools/bundle-core.sh [R package dir]
# (default: the r-wrapper folder this script is in).  Run it before R CMD build.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
pkg=${1:-$here}
repo=$(cd "$here/.." && pwd)
[ -f "$repo/pyproject.toml" ] || { echo "bundle-core: no pyproject.toml in $repo" >&2; exit 1; }
dest="$pkg/inst/core"
rm -rf "$dest"
mkdir -p "$dest/python"
cp "$repo/pyproject.toml" "$repo/README.md" "$dest/"
cp -R "$repo/python/synthcontrol" "$dest/python/"
find "$dest" -name __pycache__ -type d -prune -exec rm -rf {} +
find "$dest" -name '*.pyc' -delete
echo "bundle-core: copied the Python core $(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml") into $dest"
