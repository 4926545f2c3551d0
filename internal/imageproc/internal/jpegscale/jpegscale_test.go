package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
)

// testJPEG encodes a w×h gradient, with noise unless smooth, so every
// block has AC coefficients; odd sizes make edge blocks partial.
func testJPEG(t testing.TB, w, h int, gray bool, smooth ...bool) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	if len(smooth) > 0 && smooth[0] {
		r = rand.New(zeroSource{})
	}
	var m image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = uint8(i%w*255/w) ^ uint8(r.IntN(16))
		}
		m = g
	} else {
		c := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				n := uint8(r.IntN(32))
				c.SetNRGBA(x, y, color.NRGBA{uint8(x*255/w) + n, uint8(y*255/h) + n, uint8((x + y) % 256), 255})
			}
		}
		m = c
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zeroSource makes rand return zeros: no noise.
type zeroSource struct{}

func (zeroSource) Uint64() uint64 { return 0 }

// TestDecodeMatchesStandard checks that shift 0 is exactly image/jpeg and
// that every other shift is, on smooth content, the box average of it to
// within a level or two (the reduced inverse DCT samples cell centres, the
// box averages cells; on a gradient they agree), for colour and grey images
// with partial edge blocks.
func TestDecodeMatchesStandard(t *testing.T) {
	for _, tc := range []struct {
		name string
		gray bool
	}{{"ycbcr", false}, {"gray", true}} {
		data := testJPEG(t, 203, 117, tc.gray)
		smooth := testJPEG(t, 203, 117, tc.gray, true)
		want, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for shift := uint(0); shift <= 3; shift++ {
			data := data
			if shift > 0 {
				data = smooth
				if want, err = jpeg.Decode(bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Decode(bytes.NewReader(data), shift)
			if err != nil {
				t.Fatalf("%s shift %d: %v", tc.name, shift, err)
			}
			n := 1 << shift
			wb := want.Bounds()
			if gb := got.Bounds(); gb.Dx() != (wb.Dx()+n-1)/n || gb.Dy() != (wb.Dy()+n-1)/n {
				t.Fatalf("%s shift %d: bounds %v", tc.name, shift, gb)
			}
			// Compare a luma plane sample by sample against a box average
			// of the standard decode, away from the padded edge blocks.
			plane := func(m image.Image) ([]byte, int) {
				switch m := m.(type) {
				case *image.YCbCr:
					return m.Y, m.YStride
				case *image.Gray:
					return m.Pix, m.Stride
				}
				t.Fatalf("%s: got %T", tc.name, m)
				return nil, 0
			}
			wp, ws := plane(want)
			gp, gs := plane(got)
			for y := 0; y < wb.Dy()/n; y++ {
				for x := 0; x < wb.Dx()/n; x++ {
					sum := 0
					for j := range n {
						for i := range n {
							sum += int(wp[(y*n+j)*ws+x*n+i])
						}
					}
					avg := (sum + n*n/2) / (n * n)
					d := int(gp[y*gs+x]) - avg
					if shift == 0 && d != 0 || d < -2 || d > 2 {
						t.Fatalf("%s shift %d (%d,%d) = %d, want %d", tc.name, shift, x, y, gp[y*gs+x], avg)
					}
				}
			}
		}
	}
}

func TestDecodeRejectsShift(t *testing.T) {
	if _, err := Decode(bytes.NewReader(testJPEG(t, 8, 8, true)), 4); err == nil {
		t.Fatal("shift 4 accepted")
	}
}

// BenchmarkDecode measures a 4000×3000 decode at each scale.
func BenchmarkDecode(b *testing.B) {
	data := testJPEG(b, 4000, 3000, false)
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, shift := range []uint{0, 1, 2, 3} {
		b.Run(fmt.Sprintf("1/%d", 1<<shift), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(data), shift); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDecode checks the fork against the decoder it came from: at shift 0
// both accept or both refuse an input, with the same pixels, and no shift
// panics on what they accept.
func FuzzDecode(f *testing.F) {
	f.Add(testJPEG(f, 33, 17, false))
	f.Add(testJPEG(f, 16, 16, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width*cfg.Height > 1<<20 {
			return
		}
		want, werr := jpeg.Decode(bytes.NewReader(data))
		got, gerr := Decode(bytes.NewReader(data), 0)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("image/jpeg: %v, fork: %v", werr, gerr)
		}
		if werr == nil {
			if w, g := fmt.Sprint(want.Bounds()), fmt.Sprint(got.Bounds()); w != g {
				t.Fatalf("bounds %s, fork %s", w, g)
			}
			for _, p := range []image.Point{{0, 0}, {cfg.Width / 2, cfg.Height / 2}, {cfg.Width - 1, cfg.Height - 1}} {
				if want.At(p.X, p.Y) != got.At(p.X, p.Y) {
					t.Fatalf("pixel %v differs", p)
				}
			}
		}
		for shift := uint(1); shift <= 3; shift++ {
			Decode(bytes.NewReader(data), shift)
		}
	})
}

// TestProgressiveMatchesStandard decodes progressive files made by
// libjpeg's cjpeg (its default script: spectral selection and successive
// approximation) at 4:2:0 and 4:2:2, and checks that shift 0 gives exactly
// image/jpeg's pixels: the coefficients kept between scans must survive
// every refinement.
func TestProgressiveMatchesStandard(t *testing.T) {
	if _, err := exec.LookPath("cjpeg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cjpeg is missing (libjpeg-turbo-progs)")
		}
		t.Skip("cjpeg is missing")
	}
	base, err := jpeg.Decode(bytes.NewReader(testJPEG(t, 203, 117, false)))
	if err != nil {
		t.Fatal(err)
	}
	var ppm bytes.Buffer
	b := base.Bounds()
	fmt.Fprintf(&ppm, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := base.At(x, y).RGBA()
			ppm.Write([]byte{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)})
		}
	}
	for _, sample := range []string{"2x2", "2x1"} {
		cmd := exec.Command("cjpeg", "-progressive", "-quality", "85", "-sample", sample)
		cmd.Stdin = bytes.NewReader(ppm.Bytes())
		data, err := cmd.Output()
		if err != nil {
			t.Fatalf("cjpeg -sample %s: %v", sample, err)
		}
		want, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatalf("%s: %v", sample, err)
		}
		w, g := want.(*image.YCbCr), got.(*image.YCbCr)
		if !bytes.Equal(w.Y, g.Y) || !bytes.Equal(w.Cb, g.Cb) || !bytes.Equal(w.Cr, g.Cr) {
			t.Errorf("%s: planes differ from image/jpeg's", sample)
		}
	}
}
