package estimate

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// BenchmarkAutoEndToEnd is auto on a 1-megapixel RGB pair, decoding of both
// PNG files included: what `quantfit estimate` costs a user.
func BenchmarkAutoEndToEnd(b *testing.B) {
	src, err := photos.Load("retina.jpg")
	if err != nil {
		b.Fatal(err)
	}
	full := src.Image()
	crop := image.NewNRGBA(image.Rect(0, 0, 1024, 1024))
	draw.Draw(crop, crop.Bounds(), full, image.Point{200, 200}, draw.Src)
	var ob, qb bytes.Buffer
	if err := png.Encode(&ob, crop); err != nil {
		b.Fatal(err)
	}
	orig, _ := imageset.Decode(bytes.NewReader(ob.Bytes()), "orig.png", 0)
	q := orig.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 17.77) })
	if err := q.EncodePNG(&qb); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		o, err := imageset.Decode(bytes.NewReader(ob.Bytes()), "orig.png", 0)
		if err != nil {
			b.Fatal(err)
		}
		qq, err := imageset.Decode(bytes.NewReader(qb.Bytes()), "quant.png", 0)
		if err != nil {
			b.Fatal(err)
		}
		p, err := imageset.NewPair(o, qq)
		if err != nil {
			b.Fatal(err)
		}
		set := &imageset.Set{Pairs: []imageset.Pair{p}}
		d, err := FromSet(set, Groups(set, false)[0])
		if err != nil {
			b.Fatal(err)
		}
		r, err := Estimate(d, Settings{})
		if err != nil {
			b.Fatal(err)
		}
		if r.B < 17.75 || r.B > 17.79 {
			b.Fatalf("b = %v", r.B)
		}
	}
	b.ReportMetric(float64(1024*1024)*float64(b.N)/b.Elapsed().Seconds(), "pix/s")
}

// BenchmarkAutoEstimate is auto alone on the same kind of data, the
// histogram already built.
func BenchmarkAutoEstimate(b *testing.B) {
	ims := loadPhotos(b)
	d := pairData(b, ims[0], kernels.Midrise, 17.77)
	b.ResetTimer()
	for range b.N {
		if _, err := Estimate(d, Settings{}); err != nil {
			b.Fatal(err)
		}
	}
}
