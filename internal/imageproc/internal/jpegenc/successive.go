package jpegenc

import "math/bits"

// Successive approximation (T.81 G.1.1.1.2): a scan may code coefficients
// shifted right by Al bits, and later scans send the bits below one at a
// time (refinement). libjpeg's default progressive script
// (jpeg_simple_progression, what libvips writes with "interlace") codes
// luma's AC at Al=2 and chroma's at Al=1, then refines. With the very same
// coefficients, it pays on busy pictures and costs on smooth ones. On 35
// wallpapers at 1024 and 2048 wide (quality 82), against spectral
// selection with our luma bands: 1.5–3.5% smaller on all but one of the
// 17 renditions that spectral selection codes in 1.4 bits a pixel or
// more; between 0.3 and 1.4 bits, −3% to +4%; under 0.3 bits, 8–19%
// larger. Counting and writing its ten scans costs about 60 ms for a
// 2048×1365 (45% of the encode), so EncodeWith counts it only for
// pictures that spectral selection codes in successiveMinBPP10/10 bits a
// pixel or more, and writes it when it is smaller.
const successiveMinBPP10 = 14

// forceScript makes EncodeWith write one script whatever the counts say,
// for tests.
var forceScript = scriptAuto

const (
	scriptAuto = iota
	scriptSpectral
	scriptSuccessive
)

// scan is one scan of a script: component comp (-1: the interleaved DC
// scan of all three), coefficients ss..se, successive approximation
// bits ah (0 on a first scan) and al.
type scan struct{ comp, ss, se, ah, al int }

// simpleProgression is libjpeg's jpeg_simple_progression for YCbCr.
var simpleProgression = []scan{
	{-1, 0, 0, 0, 1},
	{0, 1, 5, 0, 2},
	{2, 1, 63, 0, 1},
	{1, 1, 63, 0, 1},
	{0, 6, 63, 0, 2},
	{0, 1, 63, 2, 1},
	{-1, 0, 0, 1, 0},
	{2, 1, 63, 1, 0},
	{1, 1, 63, 1, 0},
	{0, 1, 63, 1, 0},
}

// spectralScript is the script of spectral selection alone: DC, luma's
// first band, Cb, Cr, luma's other bands.
func spectralScript(bands [][2]int) []scan {
	s := []scan{{-1, 0, 0, 0, 0}, {0, bands[0][0], bands[0][1], 0, 0}, {1, 1, 63, 0, 0}, {2, 1, 63, 0, 0}}
	for _, b := range bands[1:] {
		s = append(s, scan{0, b[0], b[1], 0, 0})
	}
	return s
}

// huffman reports whether the scan codes Huffman symbols: a DC
// refinement sends bare bits.
func (s scan) huffman() bool { return !(s.comp < 0 && s.ah > 0) }

// counted is a scan with its symbol counts and estimated bits.
type counted struct {
	scan
	count *[2][257]int64
	bits  int64
}

// countScript runs the coding loop of every scan of script in counting
// mode. A scan whose count is in known (luma's bands, counted to choose
// them) is not run again.
func (e *encoder) countScript(comps *[3]coefs, script []scan, known map[scan]counted) (out []counted, total int64) {
	for _, s := range script {
		c, ok := known[s]
		if !ok {
			c = counted{scan: s, count: new([2][257]int64)}
			e.count, e.extra = c.count, 0
			e.scanLoop(comps, s)
			e.count = nil
			c.bits = e.extra
			if s.huffman() {
				c.bits += tableBits(c.count, s.comp < 0)
			}
			c.bits += 8 * int64(sosLength(s)+2)
		}
		out = append(out, c)
		total += c.bits
	}
	return out, total
}

// tableBits is what the symbols in count take with their optimal tables,
// and the DHT segment that carries them (one table, or two for DC).
func tableBits(count *[2][257]int64, dc bool) int64 {
	ids := 1
	if dc {
		ids = 2
	}
	var total int64
	for id := range ids {
		nbits, vals := optimalTable(&count[id])
		k := 0
		for l := 1; l <= 16; l++ {
			for range nbits[l] {
				total += int64(l) * count[id][vals[k]]
				k++
			}
		}
		total += 8 * int64(1+16+len(vals))
	}
	return total + 8*4
}

// writeScript writes the scans with the tables their counts give.
func (e *encoder) writeScript(comps *[3]coefs, script []counted) {
	for _, s := range script {
		if s.huffman() {
			ids := []int{0}
			class := byte(1)
			if s.comp < 0 {
				ids, class = []int{0, 1}, 0
			}
			e.tables(class, ids, s.count)
		}
		e.sos(s.scan)
		e.scanLoop(comps, s.scan)
		e.endScan()
	}
}

// scanLoop is the coding loop of any scan, counting or emitting.
func (e *encoder) scanLoop(comps *[3]coefs, s scan) {
	switch {
	case s.comp < 0:
		e.dcLoop(comps, s.ah, s.al)
	case s.ah == 0:
		e.acBand(&comps[s.comp], s.ss, s.se, s.al)
	default:
		e.acRefine(&comps[s.comp], s.ss, s.se, s.al)
	}
}

// dcLoop codes the DC coefficients of all components interleaved by MCU,
// luma with table 0 and chroma with table 1: their differences shifted
// right by al on a first scan, bit al of each on a refinement.
func (e *encoder) dcLoop(comps *[3]coefs, ah, al int) {
	mw, mh := comps[1].stride, len(comps[1].blocks)/comps[1].stride
	var prev [3]int32
	code := func(t, c int, dc int32) {
		if ah > 0 {
			e.emit(uint32(dc>>al)&1, 1)
			return
		}
		dc >>= al // arithmetic: T.81 A.4's point transform of DC
		e.value(t, 0, dc-prev[c])
		prev[c] = dc
	}
	for my := range mh {
		for mx := range mw {
			for i := range 4 {
				code(0, 0, int32(comps[0].at(2*mx+i&1, 2*my+i>>1)[0]))
			}
			code(1, 1, int32(comps[1].at(mx, my)[0]))
			code(1, 2, int32(comps[2].at(mx, my)[0]))
		}
	}
}

// maxCorrectionBits bounds the correction bits a refinement scan holds
// back while an end-of-band run grows (libjpeg's MAX_CORR_BITS): the run
// is sent before more would be buffered.
const maxCorrectionBits = 1000

// acRefine codes bit al of coefficients ss..se of c, whose bits above al
// an earlier scan sent (T.81 G.1.2.3, as libjpeg's encode_mcu_AC_refine):
// a coefficient that becomes nonzero at this bit is coded as a run and a
// sign bit; one that was nonzero already sends its bit as a correction
// bit, after the next symbol.
func (e *encoder) acRefine(c *coefs, ss, se, al int) {
	eobrun := 0
	var be, br []uint8 // correction bits of the blocks in the EOB run, and of this block
	send := func(bits []uint8) {
		for _, b := range bits {
			e.emit(uint32(b), 1)
		}
	}
	flush := func() {
		if eobrun == 0 {
			return
		}
		e.eobRun(eobrun)
		eobrun = 0
		send(be)
		be = be[:0]
	}
	c.nonzero()
	mask := band(ss, se)
	for by := range c.h {
		for bx := range c.w {
			i := by*c.stride + bx
			blk := &c.blocks[i]
			nz := c.nz[i] & mask
			// eob: the last coefficient that becomes nonzero at this bit.
			eob := 0
			for m := nz; m != 0; m &= m - 1 {
				if k := bits.TrailingZeros64(m); abs16(blk[k])>>al == 1 {
					eob = k
				}
			}
			run, pos := 0, ss-1 // zeros since the last symbol; the last coefficient visited
			for m := nz; m != 0; m &= m - 1 {
				k := bits.TrailingZeros64(m)
				run += k - pos - 1
				pos = k
				a := abs16(blk[k]) >> al
				if a == 0 {
					run++
					continue
				}
				// Zero runs past the last new coefficient fold into EOB.
				for run > 15 && k <= eob {
					flush()
					e.symbol(0, 0xf0)
					send(br)
					br = br[:0]
					run -= 16
				}
				if a > 1 {
					br = append(br, uint8(a&1))
					continue
				}
				flush()
				e.symbol(0, uint8(run<<4|1))
				if blk[k] < 0 {
					e.emit(0, 1)
				} else {
					e.emit(1, 1)
				}
				send(br)
				br = br[:0]
				run = 0
			}
			run += se - pos
			if run > 0 || len(br) > 0 {
				eobrun++
				be = append(be, br...)
				br = br[:0]
				if eobrun == 0x7fff || len(be) > maxCorrectionBits-blockSize+1 {
					flush()
				}
			}
		}
	}
	flush()
}

func abs16(v int16) int32 {
	if v < 0 {
		return -int32(v)
	}
	return int32(v)
}
