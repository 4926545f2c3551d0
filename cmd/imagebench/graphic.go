package main

import (
	"image"
	"math"
	"math/rand/v2"
)

// synthGraphic makes a w×h screenshot-like image, the kind of picture PNG
// uploads usually are: flat panels, a gradient title bar, rows of
// text-like glyph strokes and a few anti-aliased circles.
func synthGraphic(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 0x9a))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	set := func(x, y int, c [3]uint8, a float64) {
		if x < 0 || y < 0 || x >= w || y >= h {
			return
		}
		p := m.Pix[y*m.Stride+4*x:]
		for i := range 3 {
			p[i] = uint8(float64(p[i])*(1-a) + float64(c[i])*a + 0.5)
		}
		p[3] = 0xFF
	}
	fill := func(x0, y0, x1, y1 int, c [3]uint8) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				set(x, y, c, 1)
			}
		}
	}
	fill(0, 0, w, h, [3]uint8{246, 247, 249})
	for y := range 48 { // title bar
		v := uint8(60 + y)
		fill(0, y, w, y+1, [3]uint8{v / 2, v, 140 + v/2})
	}
	fill(0, 48, 260, h, [3]uint8{232, 235, 240}) // sidebar
	palette := [][3]uint8{{33, 37, 41}, {73, 80, 87}, {13, 110, 253}, {25, 135, 84}}
	for y := 70; y+14 < h; y += 22 { // lines of "text"
		x := 280
		if y%5 == 0 {
			x = 20
		}
		end := w - 40 - r.IntN(400)
		c := palette[r.IntN(len(palette))]
		for x < end {
			word := 3 + r.IntN(8)
			for range word {
				gw := 5 + r.IntN(3)
				for gx := range gw {
					for gy := range 11 {
						if r.IntN(3) == 0 || gx == 0 || gy == 10 {
							set(x+gx, y+gy, c, 1)
						}
					}
				}
				x += gw + 2
			}
			x += 8
		}
	}
	for range 6 { // buttons and avatars
		cx, cy, rad := 300+r.IntN(w-400), 100+r.IntN(h-200), 12+r.Float64()*30
		c := palette[r.IntN(len(palette))]
		for y := int(float64(cy) - rad - 1); y <= int(float64(cy)+rad+1); y++ {
			for x := int(float64(cx) - rad - 1); x <= int(float64(cx)+rad+1); x++ {
				d := math.Hypot(float64(x-cx), float64(y-cy))
				set(x, y, c, max(0, min(1, rad-d+0.5)))
			}
		}
	}
	return m
}
