package restore

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
)

// deband runs ffmpeg's deband filter on q (thresholds at one level of the
// 8-bit file, and its default range) and returns the PSNR of its output
// against orig; false where ffmpeg is not installed.
func deband(t *testing.T, q, orig *imageset.Image) (float64, bool) {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return 0, false
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "q.png"), filepath.Join(dir, "d.png")
	fh, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.EncodePNG(fh); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	pix := "gbrp"
	if q.Channels == 1 {
		pix = "gray"
	}
	cmd := exec.Command(bin, "-loglevel", "error", "-y", "-i", in, "-vf", fmt.Sprintf("format=%s,deband", pix), out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg deband: %v: %s", err, msg)
	}
	d, err := imageset.Load(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	return PSNR(Planes(d), orig), true
}
