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
)

// smoothImage is a picture with little high-frequency energy, where a
// short first luma band pays (the opposite of testImage's noise).
func smoothImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			p := m.Pix[y*m.Stride+4*x:]
			p[0] = uint8(128 + 100*((x*x+y*y)%4096)/4096 - 50)
			p[1] = uint8((x + 2*y) / 8 % 256)
			p[2] = uint8(200 - (x*y/64)%128)
			p[3] = 255
		}
	}
	return m
}

// withSplits encodes m with EncodeWith restricted to the given luma
// splits.
func withSplits(t *testing.T, m *image.RGBA, splits [][]int) []byte {
	t.Helper()
	saved := lumaSplits
	lumaSplits = splits
	defer func() { lumaSplits = saved }()
	return encoded(t, m, Options{Quality: 83, Trellis: true})
}

// TestLumaBands checks the choice of luma's spectral bands: every split
// makes a file that image/jpeg and djpeg decode to the very same pixels
// (the coefficients do not depend on the split), and the file EncodeWith
// writes is as small as the smallest of them, give or take the padding
// of each scan, once the zero bytes stuffed after 0xFF, which the estimate
// leaves out, are set aside.
func TestLumaBands(t *testing.T) {
	_, errDjpeg := exec.LookPath("djpeg")
	if errDjpeg != nil && os.Getenv("CI") == "true" {
		t.Fatal("djpeg is missing (libjpeg-turbo-progs)")
	}
	for name, m := range map[string]*image.RGBA{
		"noise":  testImage(333, 201, 5),
		"smooth": smoothImage(400, 300),
		"tiny":   testImage(9, 7, 1),
	} {
		t.Run(name, func(t *testing.T) {
			auto := withSplits(t, m, lumaSplits)
			want := decodeAll(t, auto, errDjpeg == nil)
			smallest := unstuffed(auto)
			for _, sp := range lumaSplits {
				b := withSplits(t, m, [][]int{sp})
				smallest = min(smallest, unstuffed(b))
				got := decodeAll(t, b, errDjpeg == nil)
				for k := range got {
					if !bytes.Equal(got[k], want[k]) {
						t.Errorf("split %v: decoder %d gives other pixels than the chosen split", sp, k)
					}
				}
				t.Logf("split %v: %d bytes", sp, len(b))
			}
			if u := unstuffed(auto); u > smallest+8 {
				t.Errorf("chose a file of %d bytes before stuffing, the smallest split makes %d", u, smallest)
			}
		})
	}
}

// decodeAll returns the pixels of a JPEG as image/jpeg decodes it and, if
// asked, as djpeg does.
func decodeAll(t *testing.T, b []byte, djpeg bool) [][]byte {
	t.Helper()
	d, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("image/jpeg: %v", err)
	}
	y := d.(*image.YCbCr)
	out := [][]byte{append(append(append([]byte{}, y.Y...), y.Cb...), y.Cr...)}
	if !djpeg {
		return out
	}
	in := filepath.Join(t.TempDir(), "t.jpg")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ppm, err := exec.Command("djpeg", "-pnm", in).Output()
	if err != nil {
		t.Fatalf("djpeg refuses the file: %v", err)
	}
	if want := fmt.Sprintf("P6\n%d %d\n255\n", y.Rect.Dx(), y.Rect.Dy()); !bytes.HasPrefix(ppm, []byte(want)) {
		t.Fatalf("djpeg output starts %q", ppm[:min(16, len(ppm))])
	}
	return append(out, ppm)
}

// unstuffed is the size of a JPEG without the zero bytes stuffed after
// 0xFF in its entropy-coded data.
func unstuffed(b []byte) int {
	return len(b) - bytes.Count(b, []byte{0xff, 0x00})
}
