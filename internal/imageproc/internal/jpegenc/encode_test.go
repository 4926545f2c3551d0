package jpegenc

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

func testImage(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 3))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := r.IntN(40)
			p := m.Pix[y*m.Stride+4*x:]
			p[0] = uint8((x*255/max(1, w) + n) % 256)
			p[1] = uint8((y*255/max(1, h) + n/2) % 256)
			p[2] = uint8(((x + y) + n) % 256)
			p[3] = 255
		}
	}
	return m
}

// TestSamePixelsAsStandard checks the one promise of the package: the
// progressive file decodes (with image/jpeg) to exactly the pixels of
// image/jpeg's own baseline file at the same quality, while being smaller.
// Odd sizes exercise partial MCUs, where progressive AC scans cover fewer
// blocks than the interleaved DC scan.
func TestSamePixelsAsStandard(t *testing.T) {
	for _, tc := range []struct {
		w, h, q int
	}{{640, 480, 82}, {150, 150, 82}, {1, 1, 82}, {17, 9, 50}, {333, 101, 95}, {64, 64, 1}, {48, 40, 100}} {
		m := testImage(tc.w, tc.h, uint64(tc.w*tc.h))
		// Saturated primaries in one corner reach the clamping branches
		// of the colour conversion.
		for y := 0; y < min(tc.h, 16); y++ {
			for x := 0; x < min(tc.w, 16); x++ {
				copy(m.Pix[y*m.Stride+4*x:], [][]byte{{0, 0, 255}, {255, 0, 0}, {0, 255, 0}, {255, 255, 255}}[(x/4+y/4)%4])
			}
		}
		var std, ours bytes.Buffer
		if err := jpeg.Encode(&std, m, &jpeg.Options{Quality: tc.q}); err != nil {
			t.Fatal(err)
		}
		if err := Encode(&ours, m, tc.q); err != nil {
			t.Fatal(err)
		}
		a, err := jpeg.Decode(bytes.NewReader(std.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		b, err := jpeg.Decode(bytes.NewReader(ours.Bytes()))
		if err != nil {
			t.Fatalf("%dx%d q%d: %v", tc.w, tc.h, tc.q, err)
		}
		ya, yb := a.(*image.YCbCr), b.(*image.YCbCr)
		if ya.Rect != yb.Rect {
			t.Fatalf("bounds %v vs %v", ya.Rect, yb.Rect)
		}
		for y := 0; y < tc.h; y++ {
			for x := 0; x < tc.w; x++ {
				if ya.Y[ya.YOffset(x, y)] != yb.Y[yb.YOffset(x, y)] ||
					ya.Cb[ya.COffset(x, y)] != yb.Cb[yb.COffset(x, y)] ||
					ya.Cr[ya.COffset(x, y)] != yb.Cr[yb.COffset(x, y)] {
					t.Fatalf("%dx%d q%d: pixel (%d,%d) differs", tc.w, tc.h, tc.q, x, y)
				}
			}
		}
		if tc.w*tc.h >= 150*150 && ours.Len() >= std.Len() {
			t.Errorf("%dx%d q%d: %d bytes, image/jpeg %d", tc.w, tc.h, tc.q, ours.Len(), std.Len())
		}
		t.Logf("%dx%d q%d: %d bytes, image/jpeg %d", tc.w, tc.h, tc.q, ours.Len(), std.Len())
	}
}

func TestOptimalTableLimitsLength(t *testing.T) {
	var count [257]int64
	f1, f2 := int64(1), int64(1)
	for i := range 60 { // Fibonacci counts make the deepest possible tree
		count[i] = f1
		f1, f2 = f2, f1+f2
	}
	nbits, vals := optimalTable(&count)
	n := 0
	kraft := 0.0
	for l := 1; l <= 16; l++ {
		n += int(nbits[l])
		kraft += float64(nbits[l]) / float64(int(1)<<l)
	}
	if n != 60 || len(vals) != 60 || kraft >= 1 {
		t.Fatalf("%d codes, %d values, Kraft sum %v", n, len(vals), kraft)
	}
}

func BenchmarkEncode(b *testing.B) {
	m := testImage(2048, 1536, 1)
	b.Run("image-jpeg", func(b *testing.B) {
		for b.Loop() {
			if err := jpeg.Encode(&bytes.Buffer{}, m, &jpeg.Options{Quality: 82}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("progressive-optimized", func(b *testing.B) {
		for b.Loop() {
			if err := Encode(&bytes.Buffer{}, m, 82); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("progressive-optimized-trellis", func(b *testing.B) {
		for b.Loop() {
			if err := EncodeWith(&bytes.Buffer{}, m, Options{Quality: 82, Trellis: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDivisorMatchesDivision checks the multiply-shift division against
// integer division for every quantizer and far past the coefficients'
// range.
func TestDivisorMatchesDivision(t *testing.T) {
	for q := int32(1); q <= 255; q++ {
		b := 8 * q
		d := newDivisor(b)
		for a := int32(-1 << 17); a <= 1<<17; a++ {
			if got, want := d.div(a), div(a, b); got != want {
				t.Fatalf("%d / %d = %d, want %d", a, b, got, want)
			}
		}
	}
}
