// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegscale

// first16 decodes a block's coefficients zigStart..zigEnd of a first
// progressive scan (DC, or a band of AC) into the coefficients kept
// between scans, as specified in sections G.1.2.1 and G.1.2.2. It is the
// sequential decode of processSOS with the coefficients stored in 16 bits,
// saturated as they go in.
func (d *decoder) first16(b *block16, dc *int32, dcH, acH *huffman, zigStart, zigEnd int32, al uint32) error {
	zig := zigStart
	if zig == 0 {
		zig++
		if err := d.decodeDC(dc, dcH); err != nil {
			return err
		}
		b[0] = sat16(*dc << al)
	}

	if zig <= zigEnd && d.eobRun > 0 {
		d.eobRun--
		return nil
	}
	// Decode the AC coefficients, as specified in section F.2.2.2.
	for ; zig <= zigEnd; zig++ {
		value, err := d.decodeHuffman(acH)
		if err != nil {
			return err
		}
		val0 := value >> 4
		val1 := value & 0x0f
		if val1 != 0 {
			zig += int32(val0)
			if zig > zigEnd {
				break
			}
			ac, err := d.receiveExtend(val1)
			if err != nil {
				return err
			}
			b[unzig[zig]] = sat16(ac << al)
		} else {
			if val0 != 0x0f {
				if d.eobRun, err = d.readEOBRun(val0); err != nil {
					return err
				}
				d.eobRun--
				break
			}
			zig += 0x0f
		}
	}
	return nil
}

// refine16 decodes a successive approximation refinement block, as
// specified in section G.1.2, into the coefficients kept between scans.
func (d *decoder) refine16(b *block16, h *huffman, zigStart, zigEnd, delta int32) error {
	// Refining a DC component is trivial.
	if zigStart == 0 {
		if zigEnd != 0 {
			panic("unreachable")
		}
		bit, err := d.decodeBit()
		if err != nil {
			return err
		}
		if bit {
			b[0] = sat16(int32(b[0]) | delta)
		}
		return nil
	}

	// Refining AC components is more complicated; see sections G.1.2.2 and G.1.2.3.
	zig := zigStart
	if d.eobRun == 0 {
	loop:
		for ; zig <= zigEnd; zig++ {
			z := int32(0)
			value, err := d.decodeHuffman(h)
			if err != nil {
				return err
			}
			val0 := value >> 4
			val1 := value & 0x0f

			switch val1 {
			case 0:
				if val0 != 0x0f {
					if d.eobRun, err = d.readEOBRun(val0); err != nil {
						return err
					}
					break loop
				}
			case 1:
				z = delta
				bit, err := d.decodeBit()
				if err != nil {
					return err
				}
				if !bit {
					z = -z
				}
			default:
				return FormatError("unexpected Huffman code")
			}

			zig, err = d.refineNonZeroes16(b, zig, zigEnd, int32(val0), delta)
			if err != nil {
				return err
			}
			if zig > zigEnd {
				return FormatError("too many coefficients")
			}
			if z != 0 {
				b[unzig[zig]] = sat16(z)
			}
		}
	}
	if d.eobRun > 0 {
		d.eobRun--
		if _, err := d.refineNonZeroes16(b, zig, zigEnd, -1, delta); err != nil {
			return err
		}
	}
	return nil
}

// refineNonZeroes16 refines non-zero entries of b in zig-zag order. If nz >= 0,
// the first nz zero entries are skipped over. The correction bits are read
// with the bit reader in locals, taken a byte at a time as decodeBit would.
func (d *decoder) refineNonZeroes16(b *block16, zig, zigEnd, nz, delta int32) (int32, error) {
	a, nb, n := d.bits.a, d.bits.nb, d.bits.n
	for ; zig <= zigEnd; zig++ {
		u := unzig[zig&(blockSize-1)]
		c := b[u]
		if c == 0 {
			if nz == 0 {
				break
			}
			nz--
			continue
		}
		if n == 0 {
			if nb >= 8 {
				n = 8
			} else {
				d.bits = bits{a: a, nb: nb, n: n}
				if err := d.ensureNBits(1); err != nil {
					return 0, err
				}
				a, nb, n = d.bits.a, d.bits.nb, d.bits.n
			}
		}
		n--
		nb--
		// Away from zero by delta if the bit is set, without a branch
		// on either: the bit is a coin toss.
		adj := delta * int32(a>>uint32(nb)&1)
		sign := int32(c) >> 31
		b[u] = sat16(int32(c) + (adj ^ sign) - sign)
	}
	d.bits = bits{a: a, nb: nb, n: n}
	return zig, nil
}
