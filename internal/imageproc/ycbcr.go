package imageproc

import (
	"image"
	"sync"
)

// planeRows is the scratch space of one horizontal pass; pooled because
// every upload needs a few megabytes of it for a moment.
var planeRows = sync.Pool{New: func() any { return new([]uint8) }}

// chromaSize is the size of m's chroma planes, which follows the subsample
// ratio, rounding up at odd edges as image.NewYCbCr does.
func chromaSize(m *image.YCbCr) (cw, ch int) {
	b := m.Rect
	hd, vd := 1, 1
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hd = 2
	case image.YCbCrSubsampleRatio420:
		hd, vd = 2, 2
	case image.YCbCrSubsampleRatio440:
		vd = 2
	case image.YCbCrSubsampleRatio411:
		hd = 4
	case image.YCbCrSubsampleRatio410:
		hd, vd = 4, 2
	}
	cw = (b.Max.X+hd-1)/hd - b.Min.X/hd
	ch = (b.Max.Y+vd-1)/vd - b.Min.Y/vd
	return cw, ch
}

// hpass resamples every row of a w×h plane (at pix[off:], stride) to dw
// samples with the taps t, into out (h rows of dw).
func hpass(pix []uint8, off, stride, h int, t taps, dw int, out []uint8) {
	bands(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := pix[off+y*stride:]
			o := out[y*dw : y*dw+dw]
			n := t.n
			for d := range o {
				ws := t.weight[d*n : d*n+n : d*n+n]
				px := row[t.start[d]:][:n:n]
				// Four taps per step: the loop overhead, not the
				// multiplications, is what a 9-tap filter spends its
				// time on.
				var acc int32
				k := 0
				for ; k+4 <= n; k += 4 {
					w, p := ws[k:k+4:k+4], px[k:k+4:k+4]
					acc += w[0]*int32(p[0]) + w[1]*int32(p[1]) + w[2]*int32(p[2]) + w[3]*int32(p[3])
				}
				for ; k < n; k++ {
					acc += ws[k] * int32(px[k])
				}
				o[d] = clampShift(acc)
			}
		}
	})
}

// resizeYCbCr resamples a decoded JPEG (or lossy WebP) straight from its
// planes to a dw×dh opaque NRGBA, with the Catmull-Rom filter (see
// catmullRom for why not resizeOpaque's Lanczos). Working on the planes
// means luma is filtered at full resolution but chroma at its stored,
// usually quarter, resolution, and the
// colour conversion happens once per output pixel instead of once per
// source pixel: for a 12 MP photo shown at 2048 pixels that is half the
// multiply-adds and no 48 MB RGBA copy of the source.
func resizeYCbCr(src *image.YCbCr, dw, dh int) *image.NRGBA {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	cw, ch := chromaSize(src)
	yOff := src.YOffset(src.Rect.Min.X, src.Rect.Min.Y)
	cOff := src.COffset(src.Rect.Min.X, src.Rect.Min.Y)

	hy, vy := makeTaps(sw, dw, catmullRom), makeTaps(sh, dh, catmullRom)
	hc, vc := hy, vy
	if cw != sw {
		hc = makeTaps(cw, dw, catmullRom)
	}
	if ch != sh {
		vc = makeTaps(ch, dh, catmullRom)
	}

	// Horizontal passes into one pooled buffer: luma rows, then Cb, then Cr.
	bufp := planeRows.Get().(*[]uint8)
	defer planeRows.Put(bufp)
	need := dw * (sh + 2*ch)
	if cap(*bufp) < need {
		*bufp = make([]uint8, need)
	}
	buf := (*bufp)[:need]
	ty, tcb, tcr := buf[:dw*sh], buf[dw*sh:dw*(sh+ch)], buf[dw*(sh+ch):]
	hpass(src.Y, yOff, src.YStride, sh, hy, dw, ty)
	hpass(src.Cb, cOff, src.CStride, ch, hc, dw, tcb)
	hpass(src.Cr, cOff, src.CStride, ch, hc, dw, tcr)

	// Vertical pass and colour conversion together, one output row at a
	// time, so the resized planes never exist as a whole.
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	bands(dh, func(y0, y1 int) {
		acc := make([]int32, 3*dw)
		ay, acb, acr := acc[:dw], acc[dw:2*dw], acc[2*dw:]
		vert := func(a []int32, plane []uint8, t taps, y int) {
			clear(a)
			ws := t.weight[y*t.n : y*t.n+t.n]
			for k, w := range ws {
				if w == 0 {
					continue
				}
				row := plane[(t.start[y]+k)*dw:][:dw]
				a := a[:len(row)]
				for i, p := range row {
					a[i] += w * int32(p)
				}
			}
		}
		for y := y0; y < y1; y++ {
			vert(ay, ty, vy, y)
			vert(acb, tcb, vc, y)
			vert(acr, tcr, vc, y)
			out := dst.Pix[y*dst.Stride:][:4*dw]
			for i := range dw {
				r, g, b := ycbcrToRGB(clampShift(ay[i]), clampShift(acb[i]), clampShift(acr[i]))
				o := out[4*i : 4*i+4 : 4*i+4]
				o[0], o[1], o[2], o[3] = r, g, b, 0xFF
			}
		}
	})
	return dst
}

// ycbcrToRGB is color.YCbCrToRGB, inlined here so the loop above stays
// tight; the arithmetic is the same, so a 1:1 "resize" gives exactly what
// image/draw gives.
func ycbcrToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy1 := int32(y) * 0x10101
	cb1 := int32(cb) - 128
	cr1 := int32(cr) - 128
	r := yy1 + 91881*cr1
	if uint32(r)&0xff000000 == 0 {
		r >>= 16
	} else {
		r = ^(r >> 31)
	}
	g := yy1 - 22554*cb1 - 46802*cr1
	if uint32(g)&0xff000000 == 0 {
		g >>= 16
	} else {
		g = ^(g >> 31)
	}
	b := yy1 + 116130*cb1
	if uint32(b)&0xff000000 == 0 {
		b >>= 16
	} else {
		b = ^(b >> 31)
	}
	return uint8(r), uint8(g), uint8(b)
}
