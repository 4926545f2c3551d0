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
	b[0] = *dc

	if d.eobRun > 0 {
		d.eobRun--
		return nil
	}
	if acH.nCodes == 0 {
		return FormatError("uninitialized Huffman table")
	}
	for zig := int32(1); zig < blockSize; zig++ {
		if d.bits.nb < 32 {
			d.readAhead()
		}
		if d.bits.nb >= 32 {
			e := acH.lut[uint32(d.bits.a>>uint32(d.bits.nb-lutSize))&(1<<lutSize-1)]
			if e != 0 {
				l := int32(e & 0xff)
				val0 := int32(e >> 12)
				val1 := uint8(e>>8) & 0x0f
				d.take(max(8, l))
				d.bits.n -= l
				d.bits.nb -= l
				if val1 != 0 {
					zig += val0
					if zig >= blockSize {
						break
					}
					t := int32(val1)
					d.take(t)
					d.bits.n -= t
					d.bits.nb -= t
					b[unzig[zig&(blockSize-1)]] = extend(uint32(d.bits.a>>uint32(d.bits.nb)), val1)
					continue
				}
				if val0 == 0 {
					break // end of block
				}
				if val0 == 0x0f {
					zig += 0x0f
					continue
				}
				// An end-of-band run, which a sequential file should not
				// have: as image/jpeg does.
				if err := d.eobRunOf(uint8(val0)); err != nil {
					return err
				}
				break
			}
		}
		value, err := d.decodeHuffman(acH)
		if err != nil {
			return err
		}
		val0 := value >> 4
		val1 := value & 0x0f
		if val1 != 0 {
			zig += int32(val0)
			if zig >= blockSize {
				break
			}
			ac, err := d.receiveExtend(val1)
			if err != nil {
				return err
			}
			b[unzig[zig]] = ac
		} else {
			if val0 != 0x0f {
				if err := d.eobRunOf(val0); err != nil {
					return err
				}
				break
			}
			zig += 0x0f
		}
	}
	return nil
}

// eobRunOf reads the end-of-band run of an EOBn code, and counts the
// current block as its first.
func (d *decoder) eobRunOf(val0 uint8) error {
	d.eobRun = uint16(1 << val0)
	if val0 != 0 {
		bits, err := d.decodeBits(int32(val0))
		if err != nil {
			return err
		}
		d.eobRun |= uint16(bits)
	}
	d.eobRun--
	return nil
}
