package imageproc

import (
	"image"
	"image/draw"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
)

// bands runs fn over [0,n) split into one contiguous band per CPU.
func bands(n int, fn func(y0, y1 int)) {
	procs := min(runtime.GOMAXPROCS(0), n)
	if procs <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + procs - 1) / procs
	for y0 := 0; y0 < n; y0 += step {
		wg.Go(func() { fn(y0, min(y0+step, n)) })
	}
	wg.Wait()
}

// toNRGBA converts a decoded image to the one pixel format every later step
// works in, exactly once. It reports whether the source format can hold
// transparency at all, so opaque formats skip the alpha scan.
func toNRGBA(img image.Image) (dst *image.NRGBA, maybeAlpha bool) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.NRGBA:
		if b.Min == (image.Point{}) {
			return m, true
		}
	case *image.YCbCr:
		if n, ok := fancyUpsample(m); ok {
			return n, false
		}
		// image/draw has a fast YCbCr->RGBA path; for opaque pixels RGBA and
		// NRGBA are the same bytes, so the result can be relabelled.
		rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		bands(b.Dy(), func(y0, y1 int) {
			r := image.Rect(0, y0, b.Dx(), y1)
			draw.Draw(rgba, r, m, b.Min.Add(image.Pt(0, y0)), draw.Src)
		})
		return &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}, false
	case *image.Gray, *image.CMYK:
		return imaging.Clone(img), false
	case *image.NRGBA64:
		// 16-bit PNGs: 8 bytes a pixel already; narrowing in place keeps a
		// second, 4-byte copy from existing next to it.
		if b.Min == (image.Point{}) {
			return narrowNRGBA64(m), true
		}
	}
	return imaging.Clone(img), true
}

// hasAlpha reports whether any pixel is not fully opaque. The colour model is
// not enough: PNG encoders often write RGBA for images that are opaque.
func hasAlpha(m *image.NRGBA) bool {
	w := m.Rect.Dx() * 4
	for y := 0; y < m.Rect.Dy(); y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+w]
		for i := 3; i < len(row); i += 4 {
			if row[i] != 0xFF {
				return true
			}
		}
	}
	return false
}

// asRGBA relabels an opaque NRGBA as RGBA (the bytes are identical when alpha
// is 255) so encoders take their RGBA fast paths.
func asRGBA(m *image.NRGBA) *image.RGBA {
	return &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
}

// flatten composites m over white for formats without alpha.
func flatten(m *image.NRGBA) *image.NRGBA {
	b := m.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	bands(b.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx()*4; x += 4 {
				a := uint32(s[x+3])
				for c := 0; c < 3; c++ {
					d[x+c] = uint8((uint32(s[x+c])*a + 255*(255-a) + 127) / 255)
				}
				d[x+3] = 0xFF
			}
		}
	})
	return dst
}

// halve is a fast 2×2 box shrink. Repeated halving before the final filter
// is how large downscales stay cheap: the filter then reads far fewer source
// pixels, and a box average of 2×2 is exact enough at these ratios. Odd edges
// reuse the last row or column. Colour is weighted by alpha so transparent
// pixels do not darken their neighbours.
func halve(src *image.NRGBA) *image.NRGBA {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := (sw+1)/2, (sh+1)/2
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	bands(dh, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			r0 := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+2*y):]
			r1 := r0
			if 2*y+1 < sh {
				r1 = src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+2*y+1):]
			}
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < dw; x++ {
				i0 := 8 * x
				i1 := i0 + 4
				if 2*x+1 >= sw {
					i1 = i0
				}
				a0, a1, a2, a3 := uint32(r0[i0+3]), uint32(r0[i1+3]), uint32(r1[i0+3]), uint32(r1[i1+3])
				o := 4 * x
				if a0&a1&a2&a3 == 0xFF {
					for c := 0; c < 3; c++ {
						d[o+c] = uint8((uint32(r0[i0+c]) + uint32(r0[i1+c]) + uint32(r1[i0+c]) + uint32(r1[i1+c]) + 2) >> 2)
					}
					d[o+3] = 0xFF
					continue
				}
				at := a0 + a1 + a2 + a3
				if at == 0 {
					d[o], d[o+1], d[o+2], d[o+3] = 0, 0, 0, 0
					continue
				}
				for c := 0; c < 3; c++ {
					v := uint32(r0[i0+c])*a0 + uint32(r0[i1+c])*a1 + uint32(r1[i0+c])*a2 + uint32(r1[i1+c])*a3
					d[o+c] = uint8((v + at/2) / at)
				}
				d[o+3] = uint8((at + 2) >> 2)
			}
		}
	})
	return dst
}

// narrowNRGBA64 keeps the high byte of each 16-bit sample, writing the
// 8-bit image over the first half of m's own buffer: destination offsets
// never pass the source ones still to be read. m must not be used after.
func narrowNRGBA64(m *image.NRGBA64) *image.NRGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	pix := m.Pix
	for y := range h {
		src := pix[y*m.Stride : y*m.Stride+8*w]
		dst := pix[y*4*w : y*4*w+4*w]
		for i := range 4 * w {
			dst[i] = src[2*i]
		}
	}
	return &image.NRGBA{Pix: pix[: 4*w*h : 4*w*h], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
}
