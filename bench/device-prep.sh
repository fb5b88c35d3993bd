#!/usr/bin/env bash
# Prepares a run on a lent GPU machine (the device tool), here: the GL loader
# packages into .gl/ and the binaries into .bin/ (both git-ignored), built
# for that machine, which has no Go and reaches no registry. Then call the
# device tool with carry [".gl", ".bin"] and the command `bash bench/device.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gl .bin
lists=$(mktemp -d)
mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update >/dev/null
(cd .gl && apt-get $o download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
go build -ldflags='-s -w' -o .bin/quantfit ./cmd/quantfit
go test -c -ldflags='-s -w' -o .bin/gpu.test ./gpu
go test -c -ldflags='-s -w' -o .bin/estimate.test ./host/estimate
go test -c -ldflags='-s -w' -o .bin/kernels.test ./kernels
go test -c -ldflags='-s -w' -o .bin/look.test ./host/look
go test -c -ldflags='-s -w' -o .bin/restore.test ./host/restore
ls -l .gl .bin
