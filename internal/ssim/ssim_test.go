package ssim

import (
	"image"
	"image/color"
	"testing"
)

func TestOf(t *testing.T) {
	pattern := func(noise int) *image.Gray {
		m := image.NewGray(image.Rect(0, 0, 64, 48))
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				v := (x*4 + y*2) % 256
				if noise > 0 && (x*7+y*13)%5 == 0 {
					v = (v + noise) % 256
				}
				m.SetGray(x, y, color.Gray{Y: uint8(v)})
			}
		}
		return m
	}
	same, err := Of(pattern(0), pattern(0))
	if err != nil || same < 0.9999 {
		t.Fatalf("an image against itself: %v %v, want 1", same, err)
	}
	noisy, err := Of(pattern(0), pattern(60))
	if err != nil || noisy >= same || noisy < 0 {
		t.Errorf("an image against a noisy copy: %v %v, want below %v", noisy, err, same)
	}
	if _, err := Of(pattern(0), image.NewGray(image.Rect(0, 0, 10, 10))); err == nil {
		t.Error("images of different sizes: no error")
	}
}
