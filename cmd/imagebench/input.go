package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// synthPhoto makes a w×h image that behaves like a photograph for a resizer
// and a JPEG encoder: smooth lighting gradients, value-noise texture at four
// scales (from soft blotches down to 4-pixel grain), a few hard-edged
// shapes, and a little per-pixel sensor noise. Everything derives from seed,
// so the same arguments always give the same pixels.
func synthPhoto(w, h int, seed uint64) *image.NRGBA {
	type octave struct {
		cell int
		amp  float64
		grid [3][]float64 // one lattice per channel mix
		gw   int
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	octs := []octave{{cell: 400, amp: 46}, {cell: 90, amp: 22}, {cell: 17, amp: 12}, {cell: 4, amp: 7}}
	for i := range octs {
		o := &octs[i]
		o.gw = w/o.cell + 2
		gh := h/o.cell + 2
		for c := range o.grid {
			o.grid[c] = make([]float64, o.gw*gh)
			for j := range o.grid[c] {
				o.grid[c][j] = r.Float64()*2 - 1
			}
		}
	}
	type disc struct{ x, y, r, dr, dg, db float64 }
	discs := make([]disc, 12)
	for i := range discs {
		discs[i] = disc{
			x: r.Float64() * float64(w), y: r.Float64() * float64(h),
			r:  (0.03 + 0.1*r.Float64()) * float64(min(w, h)),
			dr: r.Float64()*120 - 60, dg: r.Float64()*120 - 60, db: r.Float64()*120 - 60,
		}
	}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	smooth := func(t float64) float64 { return t * t * (3 - 2*t) }
	rows := make(chan int, h)
	for y := range h {
		rows <- y
	}
	close(rows)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for y := range rows {
				// One generator per row keeps the noise independent of how
				// rows are shared between goroutines.
				nr := rand.New(rand.NewPCG(seed^uint64(y)*0x9e3779b97f4a7c15, uint64(y)))
				fy := float64(y) / float64(h)
				for x := range w {
					fx := float64(x) / float64(w)
					v := [3]float64{
						70 + 110*fx + 30*math.Sin(3*fy),
						60 + 90*fy + 40*fx*fy,
						90 + 80*(1-fx)*(1-fy),
					}
					for _, o := range octs {
						gx, gy := x/o.cell, y/o.cell
						tx := smooth(float64(x%o.cell) / float64(o.cell))
						ty := smooth(float64(y%o.cell) / float64(o.cell))
						i := gy*o.gw + gx
						for c := range 3 {
							g := o.grid[c]
							a := g[i] + (g[i+1]-g[i])*tx
							b := g[i+o.gw] + (g[i+o.gw+1]-g[i+o.gw])*tx
							v[c] += o.amp * (a + (b-a)*ty)
						}
					}
					for _, d := range discs {
						dx, dy := float64(x)-d.x, float64(y)-d.y
						if dx*dx+dy*dy < d.r*d.r {
							v[0] += d.dr
							v[1] += d.dg
							v[2] += d.db
						}
					}
					n := nr.NormFloat64() * 3
					p := m.Pix[y*m.Stride+4*x:]
					for c := range 3 {
						p[c] = uint8(max(0, min(255, math.Round(v[c]+n))))
					}
					p[3] = 0xFF
				}
			}
		})
	}
	wg.Wait()
	return m
}

// encodeInput encodes the synthetic photo the way a camera or phone would
// hand it over: baseline JPEG at quality 90.
func encodeInput(m image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

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
