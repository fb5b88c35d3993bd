#!/usr/bin/env bash
# Builds quantfit's OCI image without a container daemon, into a tarball
# that docker load, podman load, kind load image-archive and crane push
# accept:
#
#   bash deploy/image/build.sh [OUT.tar]      # default quantfit-image.tar
#
# It installs the build's packages if missing (.ci/deps), fetches the
# image's Debian packages (fetch-debs.sh), builds quantfit with -tags egl
# (its GL calls then need libEGL alone) and runs the builder, which prints
# what it built.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash .ci/deps
. .ci/go.sh
out=${1:-quantfit-image.tar}
bash deploy/image/fetch-debs.sh deploy/image/debs >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=1 go build -tags egl -trimpath -buildvcs=true -ldflags='-s -w' -o "$tmp/quantfit" ./cmd/quantfit
go run ./deploy/image -binary "$tmp/quantfit" -o "$out" deploy/image/debs/*.deb
echo "wrote $out: docker load -i $out, or crane push $out REGISTRY/quantfit:dev" >&2
