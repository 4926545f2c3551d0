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

// fancyUpsample converts a 4:2:0 or 4:2:2 image to NRGBA at its own size,
// interpolating chroma with libjpeg's "fancy" triangle filter (each output
// sample ¾ of the nearer stored sample and ¼ of the next, in each
// subsampled direction) instead of image/draw's replication, which is what
// libjpeg-turbo (so libvips, browsers and djpeg) and libwebp's decoder do.
// Replicated chroma has a step every two pixels; a WebP encoder spends
// about 5% more bytes on those steps (RainDrops at 1920×1200: 102.2 kB
// against 97.3 kB for cwebp -q 82 on djpeg's default output). ok is false
// for other subsample ratios and for sub-images, which toNRGBA converts as
// before.
func fancyUpsample(m *image.YCbCr) (dst *image.NRGBA, ok bool) {
	vert := false
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		vert = true
	case image.YCbCrSubsampleRatio422:
	default:
		return nil, false
	}
	if m.Rect.Min != (image.Point{}) {
		return nil, false
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw, ch := chromaSize(m)
	if w == 0 || h == 0 || cw*2 < w {
		return nil, false
	}
	dst = image.NewNRGBA(image.Rect(0, 0, w, h))
	bands(h, func(y0, y1 int) {
		// Two rows of 2·cw upsampled samples each (Cb, Cr), and the
		// column sums of the vertical step.
		buf := make([]uint8, 4*cw)
		ucb, ucr := buf[:2*cw], buf[2*cw:]
		sums := make([]int32, cw)
		for y := y0; y < y1; y++ {
			cy := y
			if vert {
				cy = y / 2
			}
			for p, plane := range [2][]uint8{m.Cb, m.Cr} {
				out := ucb
				if p == 1 {
					out = ucr
				}
				near := plane[cy*m.CStride:][:cw]
				if !vert {
					h2v1(near, out)
					continue
				}
				// The other row is the one above for an even output row,
				// below for an odd one; at the edges the row itself.
				fy := cy - 1
				if y%2 == 1 {
					fy = cy + 1
				}
				fy = max(0, min(ch-1, fy))
				far := plane[fy*m.CStride:][:cw]
				for i := range sums {
					sums[i] = 3*int32(near[i]) + int32(far[i])
				}
				h2v2(sums, out)
			}
			yrow := m.Y[y*m.YStride:][:w]
			cbr, crr := ucb[:len(yrow)], ucr[:len(yrow)]
			d := dst.Pix[y*dst.Stride:][:4*len(yrow)]
			for x, yy := range yrow {
				r, g, b := ycbcrToRGB(yy, cbr[x], crr[x])
				o := d[4*x : 4*x+4 : 4*x+4]
				o[0], o[1], o[2], o[3] = r, g, b, 0xFF
			}
		}
	})
	return dst, true
}

// h2v2 is libjpeg's h2v2_fancy_upsample on one row of column sums
// (3·nearer row + farther row, so 16 times the sample): the horizontal
// step, with libjpeg's alternating rounding so the result matches it.
func h2v2(sums []int32, out []uint8) {
	n := len(sums)
	if n == 1 {
		out[0] = uint8((sums[0]*4 + 8) >> 4)
		out[1] = uint8((sums[0]*4 + 7) >> 4)
		return
	}
	out = out[:2*n]
	out[0] = uint8((sums[0]*4 + 8) >> 4)
	out[1] = uint8((sums[0]*3 + sums[1] + 7) >> 4)
	for i := 1; i < n-1; i++ {
		s := sums[i] * 3
		out[2*i] = uint8((s + sums[i-1] + 8) >> 4)
		out[2*i+1] = uint8((s + sums[i+1] + 7) >> 4)
	}
	out[2*n-2] = uint8((sums[n-1]*3 + sums[n-2] + 8) >> 4)
	out[2*n-1] = uint8((sums[n-1]*4 + 7) >> 4)
}

// h2v1 is libjpeg's h2v1_fancy_upsample: one row of 4:2:2 chroma doubled
// in width.
func h2v1(in []uint8, out []uint8) {
	n := len(in)
	if n == 1 {
		out[0], out[1] = in[0], in[0]
		return
	}
	out = out[:2*n]
	out[0] = in[0]
	out[1] = uint8((int32(in[0])*3 + int32(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := int32(in[i]) * 3
		out[2*i] = uint8((v + int32(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int32(in[i+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((int32(in[n-1])*3 + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}
