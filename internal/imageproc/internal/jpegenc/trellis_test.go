package jpegenc

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"uploader/internal/ssim"
)

// photoLike is a 640×480 fractal plasma made by ImageMagick: smooth areas
// and fine texture, as a resized photograph has, from a tool that is not
// ours.
func photoLike(t *testing.T) *image.RGBA {
	t.Helper()
	if _, err := exec.LookPath("convert"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ImageMagick convert is missing")
		}
		t.Skip("ImageMagick convert is missing")
	}
	out := filepath.Join(t.TempDir(), "plasma.png")
	if b, err := exec.Command("convert", "-seed", "7", "-size", "640x480", "plasma:fractal", "-blur", "0x1", out).CombinedOutput(); err != nil {
		t.Fatalf("convert: %v: %s", err, b)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	m := image.NewRGBA(src.Bounds())
	draw.Draw(m, m.Rect, src, src.Bounds().Min, draw.Src)
	return m
}

// TestTrellis checks what trellis quantization is for: a file clearly
// smaller than rounding gives at the same quality, for a small loss of
// SSIM that one quality step buys back, and still a valid JPEG for
// libjpeg's djpeg as well as image/jpeg.
func TestTrellis(t *testing.T) {
	m := photoLike(t)
	enc := func(q int, trellis bool) ([]byte, float64) {
		t.Helper()
		var buf bytes.Buffer
		if err := EncodeWith(&buf, m, Options{Quality: q, Trellis: trellis}); err != nil {
			t.Fatal(err)
		}
		d, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("q%d trellis=%v: %v", q, trellis, err)
		}
		s, err := ssim.Of(d, m)
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), s
	}
	plain, sPlain := enc(82, false)
	tr, sTr := enc(82, true)
	tr83, sTr83 := enc(83, true)
	t.Logf("q82: %d bytes SSIM %.4f; trellis q82: %d bytes (%.3f×) SSIM %.4f; trellis q83: %d bytes (%.3f×) SSIM %.4f",
		len(plain), sPlain, len(tr), float64(len(tr))/float64(len(plain)), sTr,
		len(tr83), float64(len(tr83))/float64(len(plain)), sTr83)
	if float64(len(tr)) > 0.95*float64(len(plain)) {
		t.Errorf("trellis q82 is %d bytes, rounding %d: less than 5%% saved", len(tr), len(plain))
	}
	if sTr < sPlain-0.003 {
		t.Errorf("trellis q82 SSIM %.4f, rounding %.4f: more than 0.003 lost", sTr, sPlain)
	}
	if sTr83 < sPlain-0.0005 || len(tr83) >= len(plain) {
		t.Errorf("trellis q83: %d bytes SSIM %.4f, rounding q82 %d bytes SSIM %.4f: one step should buy the SSIM back for fewer bytes",
			len(tr83), sTr83, len(plain), sPlain)
	}
	if _, err := exec.LookPath("djpeg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("djpeg is missing (libjpeg-turbo-progs)")
		}
		t.Skip("djpeg is missing")
	}
	in := filepath.Join(t.TempDir(), "t.jpg")
	if err := os.WriteFile(in, tr, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("djpeg", "-pnm", in).Output()
	if err != nil {
		t.Fatalf("djpeg refuses the trellis file: %v", err)
	}
	if !bytes.HasPrefix(out, []byte("P6\n640 480\n")) {
		t.Errorf("djpeg output starts %q", out[:min(16, len(out))])
	}
}
