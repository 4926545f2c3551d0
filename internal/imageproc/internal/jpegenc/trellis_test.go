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

// texturedPhotos are Debian wallpapers (scripts/ensure-deps.sh installs
// them) with the fine texture on which mozjpeg's λ lost the most SSIM:
// wood grain, sand, rock, an elephant's skin, a sunset's noise.
var texturedPhotos = []string{
	"/usr/share/backgrounds/mate/nature/Wood.jpg",
	"/usr/share/backgrounds/mate/nature/Dune.jpg",
	"/usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg",
	"/usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
	"/usr/share/backgrounds/Picture_0B_by_freespace.jpg",
	"/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
	"/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg",
}

// thumbnail is photo made 320 wide by libvips' vipsthumbnail, as a
// libvips user's variant would be.
func thumbnail(t *testing.T, photo string) *image.RGBA {
	t.Helper()
	return thumbnailSized(t, photo, "320x")
}

// thumbnailSized is photo made by vipsthumbnail at size (its --size).
func thumbnailSized(t *testing.T, photo, size string) *image.RGBA {
	t.Helper()
	if _, err := os.Stat(photo); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (scripts/ensure-deps.sh installs the wallpapers)", err)
		}
		t.Skip(err)
	}
	if _, err := exec.LookPath("vipsthumbnail"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("vipsthumbnail is missing (libvips-tools)")
		}
		t.Skip("vipsthumbnail is missing")
	}
	out := filepath.Join(t.TempDir(), "t.png")
	if b, err := exec.Command("vipsthumbnail", photo, "--size", size, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("vipsthumbnail: %v: %s", err, b)
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

// TestTrellis checks what trellis quantization is for, scored as
// cmd/imagebench scores: one quality step up, on real photographs with
// fine texture, it keeps every variant's SSIM within 0.002 of libjpeg's
// rounding at the spec's quality (mozjpeg's λ lost up to 0.013 here, on
// the wood) and saves bytes over them all; and its files are valid JPEG
// for libjpeg's djpeg as well as image/jpeg.
func TestTrellis(t *testing.T) {
	enc := func(m *image.RGBA, q int, trellis bool) ([]byte, float64) {
		t.Helper()
		file := encoded(t, m, Options{Quality: q, Trellis: trellis})
		d, err := jpeg.Decode(bytes.NewReader(file))
		if err != nil {
			t.Fatalf("q%d trellis=%v: %v", q, trellis, err)
		}
		s, err := ssim.Of(d, m)
		if err != nil {
			t.Fatal(err)
		}
		return file, s
	}
	var plainBytes, trBytes int
	var tr []byte
	for _, photo := range texturedPhotos {
		m := thumbnail(t, photo)
		plain, sPlain := enc(m, 82, false)
		tr83, sTr := enc(m, 83, true)
		t.Logf("%s: rounding q82 %d bytes SSIM %.4f; trellis q83 %d bytes (%.3f×) SSIM %+.4f",
			filepath.Base(photo), len(plain), sPlain, len(tr83), float64(len(tr83))/float64(len(plain)), sTr-sPlain)
		if sTr < sPlain-0.002 {
			t.Errorf("%s: trellis q83 SSIM %.4f, rounding q82 %.4f: more than 0.002 lost", filepath.Base(photo), sTr, sPlain)
		}
		plainBytes += len(plain)
		trBytes += len(tr83)
		tr = tr83
	}
	t.Logf("all: trellis q83 %.3f× rounding q82's bytes", float64(trBytes)/float64(plainBytes))
	if trBytes >= plainBytes {
		t.Errorf("trellis q83 wrote %d bytes, rounding q82 %d: nothing saved", trBytes, plainBytes)
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
	if !bytes.HasPrefix(out, []byte("P6\n320 ")) {
		t.Errorf("djpeg output starts %q", out[:min(16, len(out))])
	}
}
