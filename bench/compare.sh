#!/usr/bin/env bash
# Runs quantfit and whichever peers are installed on the same data in the
# same run, and prints each peer's step time over quantfit's.
#
#   bash bench/compare.sh [PIXELS] [BACKENDS]      # default 4194304 cpu
#
# PEERS=torch (or numpy) runs only those peers.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4194304}
backends=${2:-cpu}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -x ./.bin/quantfit ]; then q=./.bin/quantfit; else go build -o "$tmp/quantfit" ./cmd/quantfit; q=$tmp/quantfit; fi
"$q" bench -write-data "$tmp/data.bin" -pixels "$n"
"$q" bench -backend "$backends" -pixels "$n" -surrogate lsq,atan -mode pixel -k 1 -no-auto -json > "$tmp/quantfit.jsonl"
: > "$tmp/peers.jsonl"
# python with the module $1, among the interpreters on this machine
with() {
	for py in python3 /usr/bin/python3 /usr/local/bin/python3; do
		if command -v "$py" >/dev/null && "$py" -c "import $1" 2>/dev/null; then
			echo "$py"
			return 0
		fi
	done
	return 0
}
peers=${PEERS:-numpy,torch}
py=$(with numpy)
if [[ $peers != *numpy* ]]; then
	:
elif [ -n "$py" ]; then
	"$py" bench/peers/step_numpy.py "$tmp/data.bin" "$n" >> "$tmp/peers.jsonl"
else
	echo "compare: numpy is not installed: skipping the numpy peer" >&2
fi
py=$(with torch)
if [[ $peers != *torch* ]]; then
	:
elif [ -n "$py" ]; then
	"$py" bench/peers/step_torch.py "$tmp/data.bin" "$n" >> "$tmp/peers.jsonl"
else
	echo "compare: torch is not installed: skipping the PyTorch peers" >&2
fi
"$q" bench -compare "$tmp/quantfit.jsonl" "$tmp/peers.jsonl"
