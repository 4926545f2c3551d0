// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegscale

// decodeBlock decodes the DC and the 63 AC coefficients of a block of a
// sequential scan, as specified in sections F.2.2.1 and F.2.2.2, into b
// (natural order, zero beforehand).
//
// While 32 bits are in hand, read ahead or not, a code and its extra bits
// are decoded in place, taking from the byte-stream what image/jpeg's
// decodeHuffman and receiveExtend would: max(8, L) bits for an L-bit code,
// then the extra bits. Otherwise, and for anything but a plain coefficient
// or an end of block, it goes through those functions.
func (d *decoder) decodeBlock(b *block, dc *int32, dcH, acH *huffman) error {
	// The bit reader's state lives in locals, back in d.bits around every
	// call.
	a, nb, n := d.bits.a, d.bits.nb, d.bits.n
	if nb < 32 {
		a, nb = d.readAheadInto(a, nb)
	}
	var e uint16
	if nb >= 32 {
		e = dcH.lut[uint32(a>>uint32(nb-lutSize))&(1<<lutSize-1)]
	}
	if t := int32(e >> 8); e != 0 && t <= 16 {
		// The DC difference, as image/jpeg takes it: max(8, L) bits for
		// the code, then the extra bits.
		l := int32(e & 0xff)
		if d := max(8, l); n < d {
			n += (d - n + 7) &^ 7
		}
		n -= l
		nb -= l
		if n < t {
			n += (t - n + 7) &^ 7
		}
		n -= t
		nb -= t
		*dc += extend(uint32(a>>uint32(nb)), uint8(t))
	} else {
		d.bits = bits{a: a, nb: nb, n: n}
		if err := d.decodeDC(dc, dcH); err != nil {
			return err
		}
		a, nb, n = d.bits.a, d.bits.nb, d.bits.n
	}
	b[0] = *dc

	if d.eobRun > 0 {
		d.bits = bits{a: a, nb: nb, n: n}
		d.eobRun--
		return nil
	}
	for zig := int32(1); zig < blockSize; zig++ {
		if nb < 32 {
			a, nb = d.readAheadInto(a, nb)
		}
		var e uint16
		if nb >= 32 {
			i := uint32(a>>uint32(nb-lutSize)) & (1<<lutSize - 1)
			if f := acH.fastAC[i]; f != 0 && zig+(f>>8)&0xff < blockSize {
				// A coefficient whose code and extra bits fit in the
				// look-up: image/jpeg's takings for the code and then for
				// the extra bits come to max(8, their total length).
				zig += (f >> 8) & 0xff
				l := f & 0xff
				if d := max(8, l); n < d {
					n += (d - n + 7) &^ 7
				}
				n -= l
				nb -= l
				b[unzig[zig&(blockSize-1)]] = f >> 16
				continue
			}
			e = acH.lut[i]
		}
		if e == 0 {
			d.bits = bits{a: a, nb: nb, n: n}
			end, err := d.decodeAC(b, &zig, acH)
			if err != nil || end {
				return err
			}
			a, nb, n = d.bits.a, d.bits.nb, d.bits.n
			continue
		}
		// image/jpeg takes bytes until it has 8 bits for the look-up, or
		// the code's length if longer, then until it has the extra bits.
		l := int32(e & 0xff)
		if d := max(8, l); n < d {
			n += (d - n + 7) &^ 7
		}
		n -= l
		nb -= l
		val0 := int32(e >> 12)
		val1 := uint8(e>>8) & 0x0f
		if val1 != 0 {
			zig += val0
			if zig >= blockSize {
				break
			}
			t := int32(val1)
			if n < t {
				n += (t - n + 7) &^ 7
			}
			n -= t
			nb -= t
			b[unzig[zig&(blockSize-1)]] = extend(uint32(a>>uint32(nb)), val1)
			continue
		}
		if val0 == 0x0f {
			zig += 0x0f
			continue
		}
		d.bits = bits{a: a, nb: nb, n: n}
		if val0 == 0 {
			return nil // end of block
		}
		// An end-of-band run, which a sequential file should not have:
		// as image/jpeg does.
		return d.eobRunOf(uint8(val0))
	}
	d.bits = bits{a: a, nb: nb, n: n}
	return nil
}

// decodeAC decodes the next AC code of a sequential block at *zig through
// decodeHuffman and receiveExtend. end is whether the block ends.
func (d *decoder) decodeAC(b *block, zig *int32, acH *huffman) (end bool, err error) {
	value, err := d.decodeHuffman(acH)
	if err != nil {
		return true, err
	}
	val0 := value >> 4
	val1 := value & 0x0f
	if val1 != 0 {
		*zig += int32(val0)
		if *zig >= blockSize {
			return true, nil
		}
		ac, err := d.receiveExtend(val1)
		if err != nil {
			return true, err
		}
		b[unzig[*zig]] = ac
		return false, nil
	}
	if val0 != 0x0f {
		return true, d.eobRunOf(val0)
	}
	*zig += 0x0f
	return false, nil
}

// decodeDC decodes a DC difference through decodeHuffman and
// receiveExtend, as specified in section F.2.2.1, and adds it to the
// predictor *dc.
func (d *decoder) decodeDC(dc *int32, dcH *huffman) error {
	value, err := d.decodeHuffman(dcH)
	if err != nil {
		return err
	}
	if value > 16 {
		return UnsupportedError("excessive DC component")
	}
	dcDelta, err := d.receiveExtend(value)
	if err != nil {
		return err
	}
	*dc += dcDelta
	return nil
}

// readEOBRun reads the end-of-band run of an EOBn code (val0 being n), as
// specified in section G.1.2.2; the run counts the current block. Its shape
// is what lets it inline (cost 80, the budget, in Go 1.26): the EOB0 codes
// of a progressive file, most of its EOBs, then take no call at all.
func (d *decoder) readEOBRun(val0 uint8) (run uint16, err error) {
	var bits uint32
	if val0 != 0 {
		bits, err = d.decodeBits(int32(val0))
	}
	return 1<<val0 | uint16(bits), err
}

// eobRunOf reads the end-of-band run of an EOBn code, and counts the
// current block as its first.
func (d *decoder) eobRunOf(val0 uint8) (err error) {
	if d.eobRun, err = d.readEOBRun(val0); err != nil {
		return err
	}
	d.eobRun--
	return nil
}
