package imageproc

import (
	"image"
	"image/color"
	"image/draw"
	"strings"
	"testing"
)

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Rect, image.NewUniform(c), image.Point{}, draw.Src)
	return m
}

func TestBlurhash(t *testing.T) {
	// Reference values from other implementations of the same algorithm
	// (woltapp/blurhash's Kotlin tests, Hydrus). The basis is cos(pi*i*x/w)
	// with integer x, so even a flat image has some AC energy; only black,
	// whose linear value is 0, gives all-zero AC ("fQ").
	tests := []struct {
		name   string
		img    image.Image
		nx, ny int
		want   string
	}{
		{"white 10x10", solid(10, 10, color.NRGBA{255, 255, 255, 255}), 4, 4, "UWTSUA~qfQ~q~qt7fQt7fQfQfQfQ~qt7fQt7"},
		{"white 1x1", solid(1, 1, color.NRGBA{255, 255, 255, 255}), 4, 4, "U~TSUA~q~q~q~q~q~q~q~q~q~q~q~q~q~q~q"},
		{"blue 30x10", solid(30, 10, color.NRGBA{10, 120, 200, 255}), 5, 3, "MI1Gpag5fQg5fQk]flfQflfQfQfQfQfQfQ"},
		{"black", solid(64, 48, color.NRGBA{0, 0, 0, 255}), 4, 3, "L00000" + strings.Repeat("fQ", 11)},
		{"transparent is seen over white", solid(10, 10, color.NRGBA{0, 0, 0, 0}), 4, 4, "UWTSUA~qfQ~q~qt7fQt7fQfQfQfQ~qt7fQt7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Blurhash(tc.img, tc.nx, tc.ny); got != tc.want {
				t.Errorf("Blurhash = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("different images differ", func(t *testing.T) {
		seen := map[string]string{}
		imgs := map[string]image.Image{
			"quadrants":  quadrants(64, 48),
			"rotated":    quadrants(48, 64),
			"photo":      photo(200, 100, 1),
			"other seed": photo(100, 200, 2),
			"grey":       solid(8, 8, color.NRGBA{128, 128, 128, 255}),
		}
		for name, img := range imgs {
			h := Blurhash(img, 4, 3)
			if len(h) != 28 {
				t.Errorf("%s: %q has %d characters, want 28", name, h, len(h))
			}
			if other, ok := seen[h]; ok {
				t.Errorf("%s and %s share blurhash %q", name, other, h)
			}
			seen[h] = name
		}
	})
}
