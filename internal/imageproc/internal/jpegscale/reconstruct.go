package jpegscale

import "math"

// blockDst is where a block's pixels go: the plane of its component, at
// the block's place.
func (d *decoder) blockDst(bx, by, compIndex int) ([]byte, int, error) {
	bs := 8 >> d.shift
	if d.nComp == 1 {
		return d.img1.Pix[bs*(by*d.img1.Stride+bx):], d.img1.Stride, nil
	}
	switch compIndex {
	case 0:
		return d.img3.Y[bs*(by*d.img3.YStride+bx):], d.img3.YStride, nil
	case 1:
		return d.img3.Cb[bs*(by*d.img3.CStride+bx):], d.img3.CStride, nil
	case 2:
		return d.img3.Cr[bs*(by*d.img3.CStride+bx):], d.img3.CStride, nil
	case 3:
		return d.blackPix[bs*(by*d.blackStride+bx):], d.blackStride, nil
	}
	return nil, 0, UnsupportedError("too many components")
}

// reconstructBlock dequantizes, performs the inverse DCT and stores the block
// to the image, reduced to bs×bs pixels when the decoder has a shift. At a
// shift it reads only the n×n lowest coefficients of b (n = 8>>shift).
func (d *decoder) reconstructBlock(b *block, bx, by, compIndex int) error {
	dst, stride, err := d.blockDst(bx, by, compIndex)
	if err != nil {
		return err
	}
	qt := &d.quant[d.comp[compIndex].tq]
	switch d.shift {
	case 3:
		// The block's mean is its DC coefficient over 8; no inverse DCT.
		dst[0] = level((b[0]*qt[0] + 4) >> 3)
	case 2:
		idct2(b, qt, dst, stride)
	case 1:
		idct4(b, qt, dst, stride)
	default:
		idct8(b, qt, dst, stride)
	}
	return nil
}

// idct8 is the full inverse DCT of idct, with the dequantization before it
// and the level shift after it. A block with nothing but a DC coefficient,
// the commonest in smooth areas, is one value: what idctRows and idctCols
// make of it, worked out below.
func idct8(b *block, qt *block, dst []byte, stride int) {
	ac := int32(0)
	for i := 1; i < blockSize; i++ {
		ac |= b[i]
	}
	if ac == 0 {
		// idctRows turns row 0 into eight times x0<<17 and leaves the
		// zero rows zero; every column of idctCols then has only x0,
		// which its butterflies copy to all eight outputs.
		x0 := (b[0]*qt[0])<<17 + 1<<19
		p := level((x0 >> 2) >> 18)
		for y := 0; y < 8; y++ {
			row := dst[y*stride : y*stride+8 : y*stride+8]
			for x := range row {
				row[x] = p
			}
		}
		return
	}
	for i := range b {
		b[i] *= qt[i]
	}
	idct(b)
	// Level shift by +128, clip to [0, 255], and write to dst.
	for y := 0; y < 8; y++ {
		row := dst[y*stride : y*stride+8 : y*stride+8]
		src := b[y*8 : y*8+8 : y*8+8]
		for x := range row {
			row[x] = level(src[x])
		}
	}
}

// reducedCos[shift-1][x*n+u] is C(u)/2·cos((2x+1)uπ/2n) for an n-point
// inverse DCT, n = 8>>shift, C(0) = 1/√2, C(u>0) = 1.
var reducedCos = func() (t [2][16]float32) {
	for shift := 1; shift <= 2; shift++ {
		n := 8 >> shift
		for x := 0; x < n; x++ {
			for u := 0; u < n; u++ {
				c := 0.5 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/float64(2*n))
				if u == 0 {
					c *= math.Sqrt2 / 2
				}
				t[shift-1][x*n+u] = float32(c)
			}
		}
	}
	return t
}()

// The reduced inverse DCTs below are libjpeg's DCT scaling: the n×n
// inverse DCT of the block's lowest n×n dequantized coefficients, which is
// the block's content low-pass filtered to the new Nyquist limit and
// sampled at the centres of the n×n cells, with the same mean as the full
// block. That is sharper than averaging the 8×8 pixels, which matters
// because the resize that follows expects detail up to its own cut-off.
//
// They compute, in float32, exactly the sums of the straightforward
// matrix product they replaced (row pass, then column pass, each a sum
// over u in increasing order, every product and partial sum rounded to
// float32; the explicit conversions keep a compiler from fusing a
// multiply and an add), so the pixels are the same to the bit. Terms whose
// coefficient is zero are left out: adding ±0 changes no float sum, and
// the sign of a zero sum does not survive the rounding to a pixel.

// pixel rounds an inverse-DCT output to the nearest integer, halves up,
// and level-shifts and clips it.
func pixel(s float32) uint8 {
	// floor(s+0.5)+128 is floor(s+128.5), exact in float64 for every s
	// that lands in [0, 256); the rest take the old way, overflow and all.
	if g := float64(s) + 128.5; g >= 0 && g < 256 {
		return uint8(int32(g))
	}
	return level(int32(math.Floor(float64(s) + 0.5)))
}

// idct4 is the 4×4 inverse DCT of shift 1.
func idct4(b *block, qt *block, dst []byte, stride int) {
	t := &reducedCos[0]
	var c [16]float32 // dequantized, c[v*4+u]
	// rowAC[v] is non-zero where row v has a coefficient past its first,
	// rowAny[v] where it has any.
	var rowAC, rowAny [4]int32
	for v := 0; v < 4; v++ {
		r := b[v*8 : v*8+4 : v*8+4]
		q := qt[v*8 : v*8+4 : v*8+4]
		q0, q1, q2, q3 := r[0]*q[0], r[1]*q[1], r[2]*q[2], r[3]*q[3]
		c[v*4], c[v*4+1], c[v*4+2], c[v*4+3] = float32(q0), float32(q1), float32(q2), float32(q3)
		rowAC[v] = q1 | q2 | q3
		rowAny[v] = q0 | rowAC[v]
	}
	ac := rowAC[0] | rowAny[1] | rowAny[2] | rowAny[3]
	if ac == 0 {
		// Every row sum is t[x*4]·c[0] = t[0]·c[0], every column sum
		// t[y*4]·that: one value.
		p := pixel(float32(t[0] * float32(t[0]*c[0])))
		for y := 0; y < 4; y++ {
			row := dst[y*stride : y*stride+4 : y*stride+4]
			row[0], row[1], row[2], row[3] = p, p, p, p
		}
		return
	}
	// Row pass: tmp[v*4+x] = Σu t[x*4+u]·c[v*4+u]. rows is one past the
	// last row with a non-zero coefficient; flat is whether every row has
	// only its first, so that every tmp row is constant.
	var tmp [16]float32
	rows, flat := 0, true
	for v := 0; v < 4; v++ {
		r := c[v*4 : v*4+4 : v*4+4]
		if rowAC[v] == 0 {
			if rowAny[v] == 0 {
				continue // tmp row stays zero
			}
			s := float32(t[0] * r[0])
			tmp[v*4+0], tmp[v*4+1], tmp[v*4+2], tmp[v*4+3] = s, s, s, s
			rows = v + 1
			continue
		}
		flat = false
		rows = v + 1
		for x := 0; x < 4; x++ {
			tx := t[x*4 : x*4+4 : x*4+4]
			s := float32(tx[0] * r[0])
			s = s + float32(tx[1]*r[1])
			s = s + float32(tx[2]*r[2])
			s = s + float32(tx[3]*r[3])
			tmp[v*4+x] = s
		}
	}
	// Column pass: out[y*4+x] = Σv t[y*4+v]·tmp[v*4+x], the zero rows of
	// tmp left out.
	switch {
	case flat:
		// Every output row is constant.
		for y := 0; y < 4; y++ {
			ty := t[y*4 : y*4+4 : y*4+4]
			s := float32(ty[0] * tmp[0])
			s = s + float32(ty[1]*tmp[4])
			s = s + float32(ty[2]*tmp[8])
			s = s + float32(ty[3]*tmp[12])
			p := pixel(s)
			row := dst[y*stride : y*stride+4 : y*stride+4]
			row[0], row[1], row[2], row[3] = p, p, p, p
		}
	case rows == 1:
		// Every output column is constant: t[y*4] is the same for all y.
		p0 := pixel(float32(t[0] * tmp[0]))
		p1 := pixel(float32(t[0] * tmp[1]))
		p2 := pixel(float32(t[0] * tmp[2]))
		p3 := pixel(float32(t[0] * tmp[3]))
		for y := 0; y < 4; y++ {
			row := dst[y*stride : y*stride+4 : y*stride+4]
			row[0], row[1], row[2], row[3] = p0, p1, p2, p3
		}
	case rows == 2:
		for y := 0; y < 4; y++ {
			t0, t1 := t[y*4], t[y*4+1]
			row := dst[y*stride : y*stride+4 : y*stride+4]
			for x := 0; x < 4; x++ {
				row[x] = pixel(float32(t0*tmp[x]) + float32(t1*tmp[4+x]))
			}
		}
	default:
		for y := 0; y < 4; y++ {
			ty := t[y*4 : y*4+4 : y*4+4]
			row := dst[y*stride : y*stride+4 : y*stride+4]
			for x := 0; x < 4; x++ {
				s := float32(ty[0] * tmp[x])
				s = s + float32(ty[1]*tmp[4+x])
				s = s + float32(ty[2]*tmp[8+x])
				s = s + float32(ty[3]*tmp[12+x])
				row[x] = pixel(s)
			}
		}
	}
}

// idct2 is the 2×2 inverse DCT of shift 2.
func idct2(b *block, qt *block, dst []byte, stride int) {
	t := &reducedCos[1]
	c0 := float32(b[0] * qt[0])
	c1 := float32(b[1] * qt[1])
	c2 := float32(b[8] * qt[8])
	c3 := float32(b[9] * qt[9])
	var tmp [4]float32
	for x := 0; x < 2; x++ {
		tmp[x] = float32(t[x*2]*c0) + float32(t[x*2+1]*c1)
		tmp[2+x] = float32(t[x*2]*c2) + float32(t[x*2+1]*c3)
	}
	for y := 0; y < 2; y++ {
		row := dst[y*stride : y*stride+2 : y*stride+2]
		for x := 0; x < 2; x++ {
			row[x] = pixel(float32(t[y*2]*tmp[x]) + float32(t[y*2+1]*tmp[2+x]))
		}
	}
}
