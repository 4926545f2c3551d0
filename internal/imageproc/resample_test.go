package imageproc

import (
	"image"
	"image/color"
	"testing"

	"github.com/disintegration/imaging"
)

// TestResizeOpaque compares the fixed-point resampler with imaging's
// Lanczos (three lobes, as ours), and checks the edge cases the tap tables must survive.
func TestResizeOpaque(t *testing.T) {
	src := photo(400, 300, 21)
	tests := []struct {
		name   string
		src    *image.NRGBA
		dw, dh int
	}{
		{"halfish", src, 205, 154},
		{"third", src, 133, 100},
		{"tenth", src, 40, 30},
		{"slight", src, 390, 290},
		{"crop of a sub-image", src.SubImage(image.Rect(50, 20, 350, 280)).(*image.NRGBA), 100, 80},
		{"strip", photo(5000, 2, 22), 100, 1},
		{"column", photo(1, 500, 23), 1, 7},
		{"one pixel", photo(1, 1, 24), 1, 1},
		{"tiny to one", photo(3, 2, 25), 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := resizeOpaque(tc.src, tc.dw, tc.dh)
			want := imaging.Resize(tc.src, tc.dw, tc.dh, imaging.Lanczos)
			if got.Rect.Dx() != tc.dw || got.Rect.Dy() != tc.dh {
				t.Fatalf("size %v", got.Rect.Size())
			}
			worst := 0
			for i := range got.Pix {
				worst = max(worst, abs(int(got.Pix[i])-int(want.Pix[i])))
			}
			if d := meanAbsDiff(got, want); d > 0.6 || worst > 4 {
				t.Errorf("differs from imaging.Resize: mean %.3f, worst %d", d, worst)
			}
		})
	}
	t.Run("flat stays flat", func(t *testing.T) {
		c := color.NRGBA{37, 201, 120, 255}
		got := resizeOpaque(solid(333, 211, c), 97, 61)
		for y := 0; y < 61; y++ {
			for x := 0; x < 97; x++ {
				if got.NRGBAAt(x, y) != c {
					t.Fatalf("(%d,%d) = %v, want %v", x, y, got.NRGBAAt(x, y), c)
				}
			}
		}
	})
}
