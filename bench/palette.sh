#!/usr/bin/env bash
# Restores the colour palettes of real tools and prints a row per case:
# the photograph, the tool's operation, then PSNR in dB against the
# original of the stored image, of quantfit restore (default flags,
# blind), of a second quantfit given as BEFORE (an earlier build, to
# compare), of the classical inverse halftone beside them (a Gaussian
# blur, the best of σ 0.5, 0.7, 1 and 1.4 for that case: an oracle's
# choice), and the palette's colours and the dither quantfit found.
#
#   bash bench/palette.sh [QUANTFIT [BEFORE]]    # default: built from this tree
#
# It needs ImageMagick's convert and compare, and ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q=${1:-}
before=${2:-}
if [ -z "$q" ]; then
	go build -o "$tmp/quantfit" ./cmd/quantfit
	q=$tmp/quantfit
fi
psnr() { compare -metric PSNR "$1" "$2" null: 2>&1 || true; }
field() { grep -o "\"$1\": \"\\?[^,\"]*" "$2" | sed 's/.*: "\?//' || true; }
echo "| photograph | operation | stored | quantfit | before | blur (best σ) | palette | dither |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
for src in host/restore/testdata/heldout/{camera,coffee,astronaut,chelsea}.png internal/photos/{retina.jpg,ihc.png,hubble_deep_field.jpg}; do
	name=$(basename "${src%.*}")
	convert "$src" -strip "PNG24:$tmp/o.png"
	for op in im:-colors,16 im:-colors,64 im:-dither,FloydSteinberg,-colors,32 im:+dither,-colors,16 \
		ff:paletteuse,16 ff:paletteuse,64 ff:paletteuse=dither=none,16 ff:bgr8; do
		kind=${op%%:*} arg=${op#*:}
		if [ "$kind" = im ]; then
			IFS=, read -ra args <<< "$arg"
			convert "$tmp/o.png" "${args[@]}" "$tmp/q.png"
		elif [ "$arg" = bgr8 ]; then
			ffmpeg -loglevel error -y -i "$tmp/o.png" -vf "format=bgr8,format=rgb24" "$tmp/q.png"
		else
			ffmpeg -loglevel error -y -i "$tmp/o.png" -vf "split[a][b];[a]palettegen=max_colors=${arg#*,}[p];[b][p]${arg%,*}" -frames:v 1 "$tmp/q.png"
		fi
		"$q" restore -backend cpu "$tmp/q.png" "$tmp/r.png" > "$tmp/rep.json" 2> /dev/null
		was=
		if [ -n "$before" ]; then
			"$before" restore -backend cpu "$tmp/q.png" "$tmp/b.png" > /dev/null 2>&1
			was=$(psnr "$tmp/o.png" "$tmp/b.png")
		fi
		blur=0
		for s in 0.5 0.7 1 1.4; do
			convert "$tmp/q.png" -gaussian-blur "0x$s" "$tmp/g.png"
			blur=$(printf '%s\n%s\n' "$blur" "$(psnr "$tmp/o.png" "$tmp/g.png")" | sort -g | tail -1)
		done
		echo "| $name | ${op//,/ } | $(psnr "$tmp/o.png" "$tmp/q.png") | $(psnr "$tmp/o.png" "$tmp/r.png") | $was | $blur | $(field palette "$tmp/rep.json") | $(field dither "$tmp/rep.json") |"
	done
done
