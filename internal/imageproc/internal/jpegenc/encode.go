// Copyright 2011 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package jpegenc writes progressive JPEGs with optimized Huffman tables,
// which is what "jpegtran -optimize -progressive" makes of image/jpeg's
// baseline output, in one step and in process. The colour conversion, the
// 4:2:0 subsampling, the forward DCT and the quantization tables are the
// standard library's (Go 1.26, whose fdct.go is copied here), so the
// coefficients, and therefore the decoded pixels, are exactly those of
// image/jpeg.Encode at the same quality; only the entropy coding differs.
//
// The scans use spectral selection, without successive approximation
// unless a busy picture codes smaller with it (successive.go): DC
// of all components, then luma's first AC band, Cb AC 1–63, Cr AC 1–63 and
// luma's other bands, each with its own Huffman table built from the
// scan's statistics (ITU-T T.81 Annex K.2) and end-of-band runs. Luma's
// bands (1–5|6–63, 1–2|3–5|6–63 or 1–2|3–8|9–63) are chosen per image,
// the split that codes smallest (lumaSplits).
package jpegenc

import (
	"bufio"
	"errors"
	"image"
	"io"
	"math/bits"
	"runtime"
	"sync"
)

// unzig maps zig-zag order to natural order.
var unzig = [blockSize]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// unscaledQuant are image/jpeg's tables (ITU-T T.81 K.1), in zig-zag order.
var unscaledQuant = [2][blockSize]byte{
	{
		16, 11, 12, 14, 12, 10, 16, 14,
		13, 14, 18, 17, 16, 19, 24, 40,
		26, 24, 22, 22, 24, 49, 35, 37,
		29, 40, 58, 51, 61, 60, 57, 51,
		56, 55, 64, 72, 92, 78, 64, 68,
		87, 69, 55, 56, 80, 109, 81, 87,
		95, 98, 103, 104, 103, 62, 77, 113,
		121, 112, 100, 120, 92, 101, 103, 99,
	},
	{
		17, 18, 18, 24, 21, 24, 47, 26,
		26, 47, 99, 66, 56, 66, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
	},
}

// coefs holds one component's quantized coefficients in zig-zag order, on
// the grid of blocks padded to whole MCUs.
type coefs struct {
	w, h   int // blocks actually covering the component (what AC scans code)
	stride int // blocks per row of the padded grid
	blocks [][blockSize]int16
	nz     []uint64 // per block, bit k set when AC coefficient k (zig-zag) is nonzero; see nonzero
}

func (c *coefs) at(bx, by int) *[blockSize]int16 { return &c.blocks[by*c.stride+bx] }

// nonzero fills c.nz once, so that the AC scans, which run several times
// over the same blocks (counting, then writing, for luma once per
// candidate band, and for both scripts), visit only a block's nonzero
// coefficients: at quality 82 a photograph's blocks have about one in six.
func (c *coefs) nonzero() {
	if c.nz != nil {
		return
	}
	c.nz = make([]uint64, len(c.blocks))
	for i := range c.blocks {
		b := &c.blocks[i]
		var m uint64
		for k := 1; k < blockSize; k++ {
			// Without a branch: a coefficient is as likely zero as not.
			v := uint64(uint16(b[k]))
			m |= (v | -v) >> 63 << k
		}
		c.nz[i] = m
	}
}

// band is the mask of coefficients ss..se.
func band(ss, se int) uint64 { return (^uint64(0) >> (63 - se)) &^ (1<<ss - 1) }

// div returns a/b rounded to the nearest integer, as image/jpeg does.
func div(a, b int32) int32 {
	if a >= 0 {
		return (a + (b >> 1)) / b
	}
	return -((-a + (b >> 1)) / b)
}

// divisor divides by a fixed b (8 × a quantizer, at most 2040) with a
// multiplication: m = ⌈2³²/b⌉ gives ⌊x·m/2³²⌋ = ⌊x/b⌋ for every
// 0 ≤ x < 2³²/b, far beyond the 2¹⁶ a coefficient can reach. The integer
// division it replaces was a fifth of the encoder's time.
type divisor struct {
	half int32
	m    uint64
}

func newDivisor(b int32) divisor {
	return divisor{half: b >> 1, m: (1<<32 + uint64(b) - 1) / uint64(b)}
}

// div is div(a, b) of image/jpeg: a/b rounded to the nearest integer,
// halves away from zero.
func (d divisor) div(a int32) int32 {
	if a >= 0 {
		return int32(uint64(a+d.half) * d.m >> 32)
	}
	return -int32(uint64(-a+d.half) * d.m >> 32)
}

// Encode writes the opaque image m to w as a 4:2:0 progressive JPEG at the
// given quality (1–100, image/jpeg's scale), with exactly image/jpeg's
// coefficients.
func Encode(w io.Writer, m *image.RGBA, quality int) error {
	return EncodeWith(w, m, Options{Quality: quality})
}

// Options are EncodeWith's settings.
type Options struct {
	Quality int // 1–100, image/jpeg's scale
	// Trellis chooses the AC coefficients of each block by
	// rate-distortion optimisation (see trellis.go) instead of rounding:
	// smaller files for a little more error, and no longer image/jpeg's
	// coefficients.
	Trellis bool
}

// EncodeWith is Encode with options.
func EncodeWith(w io.Writer, m *image.RGBA, opt Options) error {
	quality := opt.Quality
	b := m.Bounds()
	if b.Dx() >= 1<<16 || b.Dy() >= 1<<16 {
		return errors.New("jpegenc: image is too large to encode")
	}
	if b.Empty() {
		return errors.New("jpegenc: empty image")
	}
	quality = max(1, min(100, quality))
	scale := 200 - quality*2
	if quality < 50 {
		scale = 5000 / quality
	}
	var quant [2][blockSize]byte
	for i := range quant {
		for j := range quant[i] {
			quant[i][j] = uint8(max(1, min(255, (int(unscaledQuant[i][j])*scale+50)/100)))
		}
	}

	comps := transform(m, &quant, opt.Trellis)

	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 32<<10)
	}
	e := &encoder{w: bw}
	e.write([]byte{0xff, 0xd8})
	// DQT: both tables in one segment.
	e.marker(0xdb, 2+2*(1+blockSize))
	for i := range quant {
		e.writeByte(uint8(i))
		e.write(quant[i][:])
	}
	// SOF2: progressive, 8-bit, Y 2×2 with table 0, Cb and Cr 1×1 with table 1.
	e.marker(0xc2, 8+3*3)
	e.write([]byte{8, uint8(b.Dy() >> 8), uint8(b.Dy()), uint8(b.Dx() >> 8), uint8(b.Dx()), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1})

	// Spectral selection with luma's bands, or, for a busy picture,
	// libjpeg's successive approximation if it codes smaller (see
	// successive.go).
	known := map[scan]counted{}
	bands := e.lumaBands(&comps, lumaSplits, known)
	script, bits := e.countScript(&comps, spectralScript(bands), known)
	if forceScript == scriptSuccessive || forceScript == scriptAuto && 10*bits >= successiveMinBPP10*int64(b.Dx()*b.Dy()) {
		if sa, saBits := e.countScript(&comps, simpleProgression, nil); forceScript == scriptSuccessive || saBits < bits {
			script = sa
		}
	}
	e.writeScript(&comps, script)
	e.write([]byte{0xff, 0xd9})
	if e.err == nil {
		e.err = bw.Flush()
	}
	return e.err
}

// lumaSplits are the ways of cutting luma's AC coefficients 1–63 into
// spectral bands that EncodeWith chooses from, each given by the last
// coefficient of every band but the final one: 1–5|6–63, 1–2|3–5|6–63 or
// 1–2|3–8|9–63. The scans are then: DC, luma's first band, Cb 1–63, Cr
// 1–63, luma's other bands. Which split codes smallest depends on the
// picture (each band has its own Huffman table and end-of-band runs). On
// the bench's twelve renditions at q83, of fourteen splits tried, these
// three taken together did best: 0.8% fewer bytes than 1–5|6–63 alone (the
// one split used before, still the best on two thumbnails), up to 1.7%
// (sunset w1024), at no cost in quality, since the coefficients are the
// same. The estimate leaves out the zero bytes stuffed after 0xFF, so on
// noise it can miss the smallest file by a fraction of a percent.
var lumaSplits = [][]int{{5}, {2, 5}, {2, 8}}

// lumaBands returns the split of splits whose bands code in the fewest
// bits, as [ss, se] pairs, leaving each band's count in known.
func (e *encoder) lumaBands(comps *[3]coefs, splits [][]int, known map[scan]counted) [][2]int {
	var best [][2]int
	var bestBits int64
	for _, sp := range splits {
		var bands [][2]int
		var script []scan
		ss := 1
		for _, se := range append(sp[:len(sp):len(sp)], 63) {
			bands = append(bands, [2]int{ss, se})
			script = append(script, scan{0, ss, se, 0, 0})
			ss = se + 1
		}
		counts, total := e.countScript(comps, script, known)
		for _, c := range counts {
			known[c.scan] = c
		}
		if best == nil || total < bestBits {
			best, bestBits = bands, total
		}
	}
	return best
}

// transform converts, subsamples, transforms and quantizes every MCU, in
// parallel by rows of MCUs.
func transform(m *image.RGBA, quant *[2][blockSize]byte, useTrellis bool) [3]coefs {
	b := m.Bounds()
	mw, mh := (b.Dx()+15)/16, (b.Dy()+15)/16
	cw, ch := (b.Dx()+1)/2, (b.Dy()+1)/2
	comps := [3]coefs{
		{w: (b.Dx() + 7) / 8, h: (b.Dy() + 7) / 8, stride: 2 * mw, blocks: make([][blockSize]int16, 4*mw*mh)},
		{w: (cw + 7) / 8, h: (ch + 7) / 8, stride: mw, blocks: make([][blockSize]int16, mw*mh)},
		{w: (cw + 7) / 8, h: (ch + 7) / 8, stride: mw, blocks: make([][blockSize]int16, mw*mh)},
	}
	weights := [2]trellisWeights{newTrellisWeights(&quant[0]), newTrellisWeights(&quant[1])}
	var recips [2][blockSize]divisor
	for t := range recips {
		for zig := range blockSize {
			recips[t][zig] = newDivisor(8 * int32(quant[t][zig]))
		}
	}
	store := func(dst *[blockSize]int16, blk *block, t int) {
		fdct(blk)
		q := &quant[t]
		if useTrellis {
			trellis(dst, blk, q, t, &weights[t])
			return
		}
		r := &recips[t]
		for zig := range blockSize {
			dst[zig] = int16(r[zig].div(blk[unzig[zig]]))
		}
	}
	rows := make(chan int, mh)
	for my := range mh {
		rows <- my
	}
	close(rows)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), mh) {
		wg.Go(func() {
			var (
				yb     block
				cb, cr [4]block
			)
			for my := range rows {
				for mx := range mw {
					for i := range 4 {
						p := image.Pt(b.Min.X+16*mx+(i&1)*8, b.Min.Y+16*my+(i&2)*4)
						rgbaToYCbCr(m, p, &yb, &cb[i], &cr[i])
						store(comps[0].at(2*mx+i&1, 2*my+i>>1), &yb, 0)
					}
					scaleBlock(&yb, &cb)
					store(comps[1].at(mx, my), &yb, 1)
					scaleBlock(&yb, &cr)
					store(comps[2].at(mx, my), &yb, 1)
				}
			}
		})
	}
	wg.Wait()
	return comps
}

// rgbaToYCbCr is image/jpeg's: the 8×8 region at p, edges replicated. The
// conversion is color.RGBToYCbCr's arithmetic written out here, because the
// call, which the compiler does not inline, was a tenth of the encoding.
func rgbaToYCbCr(m *image.RGBA, p image.Point, yBlock, cbBlock, crBlock *block) {
	b := m.Bounds()
	if p.X+8 <= b.Max.X && p.Y+8 <= b.Max.Y {
		rgbaToYCbCrInside(m, p, yBlock, cbBlock, crBlock)
		return
	}
	xmax := b.Max.X - 1
	ymax := b.Max.Y - 1
	for j := 0; j < 8; j++ {
		sj := min(p.Y+j, ymax)
		offset := (sj-b.Min.Y)*m.Stride - b.Min.X*4
		for i := 0; i < 8; i++ {
			sx := min(p.X+i, xmax)
			pix := m.Pix[offset+sx*4:][:3:3]
			r1, g1, b1 := int32(pix[0]), int32(pix[1]), int32(pix[2])
			yBlock[8*j+i] = (19595*r1 + 38470*g1 + 7471*b1 + 1<<15) >> 16
			cb := -11056*r1 - 21712*g1 + 32768*b1 + 257<<15
			if uint32(cb)&0xff000000 == 0 {
				cb >>= 16
			} else {
				cb = ^(cb >> 31) & 0xff
			}
			cbBlock[8*j+i] = cb
			cr := 32768*r1 - 27440*g1 - 5328*b1 + 257<<15
			if uint32(cr)&0xff000000 == 0 {
				cr >>= 16
			} else {
				cr = ^(cr >> 31) & 0xff
			}
			crBlock[8*j+i] = cr
		}
	}
}

// rgbaToYCbCrInside is rgbaToYCbCr for a block wholly inside m: the same
// arithmetic without the edge clamping, on one row slice at a time.
func rgbaToYCbCrInside(m *image.RGBA, p image.Point, yBlock, cbBlock, crBlock *block) {
	for j := 0; j < 8; j++ {
		row := m.Pix[m.PixOffset(p.X, p.Y+j):][:32:32]
		yb, cbb, crb := yBlock[8*j:8*j+8:8*j+8], cbBlock[8*j:8*j+8:8*j+8], crBlock[8*j:8*j+8:8*j+8]
		for i := 0; i < 8; i++ {
			pix := row[4*i : 4*i+3 : 4*i+3]
			r1, g1, b1 := int32(pix[0]), int32(pix[1]), int32(pix[2])
			yb[i] = (19595*r1 + 38470*g1 + 7471*b1 + 1<<15) >> 16
			cb := -11056*r1 - 21712*g1 + 32768*b1 + 257<<15
			if uint32(cb)&0xff000000 == 0 {
				cb >>= 16
			} else {
				cb = ^(cb >> 31) & 0xff
			}
			cbb[i] = cb
			cr := 32768*r1 - 27440*g1 - 5328*b1 + 257<<15
			if uint32(cr)&0xff000000 == 0 {
				cr >>= 16
			} else {
				cr = ^(cr >> 31) & 0xff
			}
			crb[i] = cr
		}
	}
}

// scaleBlock is image/jpeg's scale: the 16×16 region of four blocks
// averaged down to one.
func scaleBlock(dst *block, src *[4]block) {
	for i := 0; i < 4; i++ {
		dstOff := (i&2)<<4 | (i&1)<<2
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				j := 16*y + 2*x
				sum := src[i][j] + src[i][j+1] + src[i][j+8] + src[i][j+9]
				dst[8*y+x+dstOff] = (sum + 2) >> 2
			}
		}
	}
}

// encoder is the bit writer plus, per scan, either a statistics pass or the
// real one: every scan runs its coding loop twice, first counting symbols
// to build the optimal table, then emitting with it.
type encoder struct {
	w     *bufio.Writer
	err   error
	acc   uint32 // pending bits, left-aligned
	nacc  uint32
	count *[2][257]int64 // non-nil during a statistics pass
	extra int64          // bits emit was asked for during a statistics pass
	lut   [2][256]uint32 // length<<16 | code, per table
}

func (e *encoder) write(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *encoder) writeByte(b byte) {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
}

func (e *encoder) marker(m byte, length int) {
	e.write([]byte{0xff, m, uint8(length >> 8), uint8(length)})
}

// emit appends the low n bits of v (n <= 16), stuffing a zero after 0xFF.
func (e *encoder) emit(v, n uint32) {
	if e.count != nil {
		e.extra += int64(n)
		return
	}
	n += e.nacc
	v <<= 32 - n
	v |= e.acc
	for n >= 8 {
		b := uint8(v >> 24)
		e.writeByte(b)
		if b == 0xff {
			e.writeByte(0)
		}
		v <<= 8
		n -= 8
	}
	e.acc, e.nacc = v, n
}

// symbol codes one Huffman symbol with table t.
func (e *encoder) symbol(t int, s uint8) {
	if e.count != nil {
		e.count[t][s]++
		return
	}
	c := e.lut[t][s]
	e.emit(c&0xffff, c>>16)
}

// value codes a coefficient or difference after its size category.
func (e *encoder) value(t int, run int32, v int32) {
	a, b := v, v
	if a < 0 {
		a, b = -v, v-1
	}
	n := uint32(bits.Len32(uint32(a)))
	e.symbol(t, uint8(run<<4)|uint8(n))
	if n > 0 {
		e.emit(uint32(b)&(1<<n-1), n)
	}
}

// endScan pads the last byte with ones, as T.81 F.1.2.3 asks.
func (e *encoder) endScan() {
	e.emit(0x7f, 7)
	e.acc, e.nacc = 0, 0
}

// tables builds optimal tables of the class (0 DC, 1 AC) for the ids in
// ids from count, writes them and sets them up for coding.
func (e *encoder) tables(class byte, ids []int, count *[2][257]int64) {
	var dht []byte
	for _, id := range ids {
		nbits, vals := optimalTable(&count[id])
		dht = append(dht, class<<4|byte(id))
		dht = append(dht, nbits[1:]...)
		dht = append(dht, vals...)
		e.lut[id] = [256]uint32{}
		code, k := uint32(0), 0
		for l := 1; l <= 16; l++ {
			for range nbits[l] {
				e.lut[id][vals[k]] = uint32(l)<<16 | code
				code++
				k++
			}
			code <<= 1
		}
	}
	e.marker(0xc4, 2+len(dht))
	e.write(dht)
}

// eobRun codes a run of n blocks that end early (T.81 G.1.2.2): the
// symbol EOBr and r extra bits, for 2^r ≤ n < 2^(r+1). Nothing for n 0.
func (e *encoder) eobRun(n int) {
	if n == 0 {
		return
	}
	r := bits.Len(uint(n)) - 1
	e.symbol(0, uint8(r<<4))
	if r > 0 {
		e.emit(uint32(n)&(1<<r-1), uint32(r))
	}
}

// acBand is the coding loop of an AC scan, counting or emitting: a first
// scan, of the coefficients' magnitudes shifted right by al.
func (e *encoder) acBand(c *coefs, ss, se, al int) {
	eobrun := 0
	flush := func() {
		e.eobRun(eobrun)
		eobrun = 0
	}
	c.nonzero()
	mask := band(ss, se)
	for by := range c.h {
		for bx := range c.w {
			i := by*c.stride + bx
			blk := &c.blocks[i]
			prev := ss - 1 // the last coefficient coded
			for m := c.nz[i] & mask; m != 0; m &= m - 1 {
				k := bits.TrailingZeros64(m)
				v := int32(blk[k])
				if al > 0 {
					// Magnitude shifted, sign kept, without a branch.
					sign := v >> 31
					v = ((v^sign)-sign)>>al ^ sign - sign
					if v == 0 {
						continue
					}
				}
				flush()
				run := int32(k - prev - 1)
				for run > 15 {
					e.symbol(0, 0xf0)
					run -= 16
				}
				e.value(0, run, v)
				prev = k
			}
			if prev < se {
				if eobrun++; eobrun == 0x7fff {
					flush()
				}
			}
		}
	}
	flush()
}

// sos writes the header of scan s: one component's AC band, or, with comp
// -1, the interleaved DC scan (luma with DC table 0, chroma with 1).
func (e *encoder) sos(s scan) {
	a := byte(s.ah<<4 | s.al)
	if s.comp < 0 {
		e.marker(0xda, sosLength(s))
		e.write([]byte{3, 1, 0x00, 2, 0x10, 3, 0x10, 0, 0, a})
		return
	}
	e.marker(0xda, sosLength(s))
	e.write([]byte{1, byte(s.comp + 1), 0x00, byte(s.ss), byte(s.se), a})
}

// sosLength is the length field of scan s's header.
func sosLength(s scan) int {
	if s.comp < 0 {
		return 6 + 2*3
	}
	return 6 + 2
}

// optimalTable builds a length-limited Huffman code for the symbol counts
// freq (freq[256] is reserved), following T.81 Annex K.2 as libjpeg's
// jpeg_gen_optimal_table does. It returns the number of codes of each
// length 1..16 (index 0 unused) and the symbols in order of code length.
func optimalTable(count *[257]int64) (nbits [17]byte, vals []byte) {
	var freq [257]int64
	copy(freq[:], count[:])
	freq[256] = 1 // reserve one code point so no code is all ones
	var codesize [257]int
	var others [257]int
	for i := range others {
		others[i] = -1
	}
	for {
		// c1: smallest nonzero frequency (largest index on ties); c2: next.
		c1, c2 := -1, -1
		var v1, v2 int64 = 1 << 62, 1 << 62
		for i := 0; i <= 256; i++ {
			if freq[i] != 0 && freq[i] <= v1 {
				v1, c1 = freq[i], i
			}
		}
		for i := 0; i <= 256; i++ {
			if freq[i] != 0 && freq[i] <= v2 && i != c1 {
				v2, c2 = freq[i], i
			}
		}
		if c2 < 0 {
			break
		}
		freq[c1] += freq[c2]
		freq[c2] = 0
		codesize[c1]++
		for others[c1] >= 0 {
			c1 = others[c1]
			codesize[c1]++
		}
		others[c1] = c2
		codesize[c2]++
		for others[c2] >= 0 {
			c2 = others[c2]
			codesize[c2]++
		}
	}
	// Lengths beyond 32 only occur with absurdly skewed counts; folding
	// them into 32 keeps the order, and the adjustment below fixes the
	// counts.
	for i := range codesize {
		codesize[i] = min(codesize[i], 32)
	}
	var lens [33]int
	for i := 0; i <= 256; i++ {
		if codesize[i] > 0 {
			lens[codesize[i]]++
		}
	}
	// Limit code lengths to 16 bits (K.3's adjustment).
	for i := 32; i > 16; i-- {
		for lens[i] > 0 {
			j := i - 2
			for lens[j] == 0 {
				j--
			}
			lens[i] -= 2
			lens[i-1]++
			lens[j+1] += 2
			lens[j]--
		}
	}
	// Remove the reserved code point from the longest length.
	i := 16
	for lens[i] == 0 {
		i--
	}
	lens[i]--
	for l := 1; l <= 16; l++ {
		nbits[l] = byte(lens[l])
	}
	for l := 1; l <= 32; l++ {
		for s := 0; s < 256; s++ {
			if codesize[s] == l {
				vals = append(vals, byte(s))
			}
		}
	}
	return nbits, vals
}
