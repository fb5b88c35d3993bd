#!/usr/bin/env bash
# Restores the ordered dithers of real tools and prints a row per case:
# the photograph, the tool's operation, then PSNR in dB against the
# original of the stored image, of quantfit restore (default flags,
# blind), of the classical inverse halftone beside it (a Gaussian blur,
# the best of σ 0.5, 0.8, 1.2 and 2 for that case: an oracle's choice),
# and the dither period quantfit found (0: none).
#
#   bash bench/dither.sh [QUANTFIT]      # default: built from this tree
#
# It needs ImageMagick's convert and compare, and ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q=${1:-}
if [ -z "$q" ]; then
	go build -o "$tmp/quantfit" ./cmd/quantfit
	q=$tmp/quantfit
fi
psnr() { compare -metric PSNR "$1" "$2" null: 2>&1 || true; }
echo "| photograph | operation | stored | quantfit | blur (best σ) | period |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for src in host/restore/testdata/heldout/{camera,coffee,astronaut,chelsea}.png internal/photos/{retina.jpg,ihc.png}; do
	name=$(basename "${src%.*}")
	convert "$src" -strip "PNG24:$tmp/o.png"
	for op in im:o2x2,10 im:o4x4,8 im:o8x8,6 im:h6x6a,6 ff:rgb444 ff:rgb555 ff:rgb565; do
		kind=${op%%:*} arg=${op#*:}
		if [ "$kind" = im ]; then
			convert "$tmp/o.png" -ordered-dither "$arg" "$tmp/q.png"
		else
			ffmpeg -loglevel error -y -i "$tmp/o.png" -vf "format=$arg,format=rgb24" "$tmp/q.png"
		fi
		"$q" restore -backend cpu "$tmp/q.png" "$tmp/r.png" > "$tmp/rep.json" 2> /dev/null
		period=$(grep -o '"dither_period": [0-9]*' "$tmp/rep.json" | grep -o '[0-9]*$' || true)
		blur=0
		for s in 0.5 0.8 1.2 2; do
			convert "$tmp/q.png" -gaussian-blur "0x$s" "$tmp/b.png"
			blur=$(printf '%s\n%s\n' "$blur" "$(psnr "$tmp/o.png" "$tmp/b.png")" | sort -g | tail -1)
		done
		echo "| $name | $op | $(psnr "$tmp/o.png" "$tmp/q.png") | $(psnr "$tmp/o.png" "$tmp/r.png") | $blur | ${period:-0} |"
	done
done
