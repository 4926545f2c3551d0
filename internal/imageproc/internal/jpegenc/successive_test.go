package jpegenc

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"uploader/internal/imageproc/internal/jpegscale"
)

// withScript encodes m with EncodeWith writing the given script.
func withScript(t *testing.T, m *image.RGBA, script int, opt Options) []byte {
	t.Helper()
	saved := forceScript
	forceScript = script
	defer func() { forceScript = saved }()
	return encoded(t, m, opt)
}

// encoded is EncodeWith's file for m, failing the test on an error.
func encoded(t *testing.T, m *image.RGBA, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeWith(&buf, m, opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSuccessiveApproximation checks the successive-approximation
// script: it carries exactly the coefficients spectral selection does, so
// image/jpeg, our jpegscale decoder and libjpeg's djpeg all decode both
// files to the very same pixels; on a busy photograph it is the smaller
// file and EncodeWith picks it, and on a 150² crop the spectral one is
// and EncodeWith picks that.
func TestSuccessiveApproximation(t *testing.T) {
	_, errDjpeg := exec.LookPath("djpeg")
	if errDjpeg != nil && os.Getenv("CI") == "true" {
		t.Fatal("djpeg is missing (libjpeg-turbo-progs)")
	}
	images := map[string]*image.RGBA{
		"noise":  testImage(333, 201, 5),
		"smooth": smoothImage(400, 300),
		"tiny":   testImage(9, 7, 1),
		"odd":    testImage(17, 130, 2),
	}
	for name, m := range images {
		for _, opt := range []Options{{Quality: 82}, {Quality: 83, Trellis: true}, {Quality: 30}, {Quality: 100}} {
			t.Run(fmt.Sprintf("%s/q%d-%v", name, opt.Quality, opt.Trellis), func(t *testing.T) {
				spectral := withScript(t, m, scriptSpectral, opt)
				sa := withScript(t, m, scriptSuccessive, opt)
				if bytes.Equal(spectral, sa) {
					t.Fatal("the two scripts wrote the same file")
				}
				samePixels(t, spectral, sa, errDjpeg == nil)
			})
		}
	}

	// A busy 2048-wide photograph, made by libvips.
	busy := thumbnailSized(t, "/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg", "2048x")
	opt := Options{Quality: 82}
	spectral, sa := withScript(t, busy, scriptSpectral, opt), withScript(t, busy, scriptSuccessive, opt)
	samePixels(t, spectral, sa, errDjpeg == nil)
	auto := withScript(t, busy, scriptAuto, opt)
	t.Logf("w2048: spectral %d bytes, successive %d (%.3f×), chosen %d", len(spectral), len(sa), float64(len(sa))/float64(len(spectral)), len(auto))
	if len(sa) >= len(spectral) || !bytes.Equal(auto, sa) {
		t.Errorf("w2048: spectral %d bytes, successive %d, chosen %d: successive approximation should be smaller and chosen", len(spectral), len(sa), len(auto))
	}
	thumb := thumbnail(t, texturedPhotos[0])
	opt = Options{Quality: 83, Trellis: true}
	spectral, sa = withScript(t, thumb, scriptSpectral, opt), withScript(t, thumb, scriptSuccessive, opt)
	auto = withScript(t, thumb, scriptAuto, opt)
	t.Logf("w320: spectral %d bytes, successive %d (%.3f×), chosen %d", len(spectral), len(sa), float64(len(sa))/float64(len(spectral)), len(auto))
	if len(spectral) >= len(sa) || !bytes.Equal(auto, spectral) {
		t.Errorf("w320: spectral %d bytes, successive %d, chosen %d: spectral selection should be smaller and chosen", len(spectral), len(sa), len(auto))
	}
}

// samePixels checks that files a and b decode to identical pixels with
// image/jpeg, jpegscale (at full and reduced scale) and, when present,
// djpeg.
func samePixels(t *testing.T, a, b []byte, djpeg bool) {
	t.Helper()
	da, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	db, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	if !equalYCbCr(da, db) {
		t.Fatal("image/jpeg decodes the two files to different pixels")
	}
	for shift := range uint(4) {
		sa, err := jpegscale.Decode(bytes.NewReader(a), shift)
		if err != nil {
			t.Fatalf("jpegscale 1/%d: %v", 1<<shift, err)
		}
		sb, err := jpegscale.Decode(bytes.NewReader(b), shift)
		if err != nil {
			t.Fatalf("jpegscale 1/%d: %v", 1<<shift, err)
		}
		if !equalYCbCr(sa, sb) {
			t.Fatalf("jpegscale 1/%d decodes the two files to different pixels", 1<<shift)
		}
	}
	if !djpeg {
		return
	}
	dir := t.TempDir()
	var out [2][]byte
	for i, f := range [][]byte{a, b} {
		p := filepath.Join(dir, fmt.Sprint(i, ".jpg"))
		if err := os.WriteFile(p, f, 0o644); err != nil {
			t.Fatal(err)
		}
		o, err := exec.Command("djpeg", "-pnm", p).Output()
		if err != nil {
			t.Fatalf("djpeg refuses file %d: %v", i, err)
		}
		out[i] = o
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Fatal("djpeg decodes the two files to different pixels")
	}
}

func equalYCbCr(a, b image.Image) bool {
	ya, ok1 := a.(*image.YCbCr)
	yb, ok2 := b.(*image.YCbCr)
	if !ok1 || !ok2 {
		return false
	}
	return ya.Rect == yb.Rect && bytes.Equal(ya.Y, yb.Y) && bytes.Equal(ya.Cb, yb.Cb) && bytes.Equal(ya.Cr, yb.Cr)
}

// FuzzScripts encodes arbitrary pictures, sizes and qualities with both
// scripts and checks that image/jpeg decodes them to the same pixels: the
// successive-approximation scans must carry exactly the coefficients.
func FuzzScripts(f *testing.F) {
	f.Add(uint8(16), uint8(16), uint8(82), false, []byte{0, 255, 7, 128})
	f.Add(uint8(33), uint8(9), uint8(100), true, []byte{1, 2, 3})
	f.Add(uint8(1), uint8(1), uint8(1), false, []byte{})
	f.Fuzz(func(t *testing.T, w, h, q uint8, trellis bool, pix []byte) {
		width, height := 1+int(w)%96, 1+int(h)%96
		m := image.NewRGBA(image.Rect(0, 0, width, height))
		for i := range m.Pix {
			switch {
			case i%4 == 3:
				m.Pix[i] = 255
			case len(pix) > 0:
				// Repeat the input with a drift, so short inputs still make busy pictures.
				m.Pix[i] = pix[i%len(pix)] + byte(i/len(pix))
			}
		}
		opt := Options{Quality: 1 + int(q)%100, Trellis: trellis}
		spectral := withScript(t, m, scriptSpectral, opt)
		sa := withScript(t, m, scriptSuccessive, opt)
		da, err := jpeg.Decode(bytes.NewReader(spectral))
		if err != nil {
			t.Fatalf("spectral: %v", err)
		}
		db, err := jpeg.Decode(bytes.NewReader(sa))
		if err != nil {
			t.Fatalf("successive: %v", err)
		}
		if !equalYCbCr(da, db) {
			t.Fatalf("%dx%d q%d trellis=%v: the scripts decode to different pixels", width, height, opt.Quality, trellis)
		}
	})
}
