#!/usr/bin/env bash
# Downloads the Debian packages the image takes its libraries from (image.go's
# Packages) into DIR (default deploy/image/debs), from this machine's apt
# sources, with a private package list: nothing is installed.
set -euo pipefail
out=${1:-$(dirname "$0")/debs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$state/lists" -oDir::Cache="$state/cache" -oDebug::NoLocking=1)
apt-get "${o[@]}" update >/dev/null
rm -f "$out"/*.deb
(cd "$out" && apt-get "${o[@]}" download libc6 libegl1 libglvnd0 libopengl0 >/dev/null 2>&1 ||
	apt-get "${o[@]}" download libc6 libegl1 libglvnd0 libopengl0)
ls "$out"/*.deb
