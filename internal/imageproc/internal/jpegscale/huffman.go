// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegscale

import (
	"encoding/binary"
	"io"
	mbits "math/bits"
)

// maxCodeLength is the maximum (inclusive) number of bits in a Huffman code.
const maxCodeLength = 16

// maxNCodes is the maximum (inclusive) number of codes in a Huffman tree.
const maxNCodes = 256

// lutSize is the log-2 size of the Huffman decoder's look-up table.
const lutSize = 9

// huffman is a Huffman decoder, specified in section C.
type huffman struct {
	// length is the number of codes in the tree.
	nCodes int32
	// lut is the look-up table for the next lutSize bits in the bit-stream.
	// The high 8 bits of the uint16 are the encoded value. The low 8 bits
	// are the code length, or 0 if the code is longer than lutSize bits.
	lut [1 << lutSize]uint16
	// lut8 is image/jpeg's table, for the next 8 bits: the encoded value
	// <<8 | 1 plus the code length, or 0 for a longer code.
	lut8 [1 << 8]uint16
	// irregular is whether the code counts are no prefix code; then lut
	// and fastAC are all zero.
	irregular bool
	// fastAC is, for an AC table, the look-up table for a code and its
	// extra bits together when they fit in lutSize bits: the coefficient
	// <<16 | the zero run <<8 | code length plus extra bits. 0 is none.
	fastAC [1 << lutSize]int32
	// vals are the decoded values, sorted by their encoding.
	vals [maxNCodes]uint8
	// minCodes[i] is the minimum code of length i, or -1 if there are no
	// codes of that length.
	minCodes [maxCodeLength]int32
	// maxCodes[i] is the maximum code of length i, or -1 if there are no
	// codes of that length.
	maxCodes [maxCodeLength]int32
	// valsIndices[i] is the index into vals of minCodes[i].
	valsIndices [maxCodeLength]int32
}

// errShortHuffmanData means that an unexpected EOF occurred while decoding
// Huffman data.
var errShortHuffmanData = FormatError("short Huffman data")

// readAhead loads whole bytes from the byte buffer into d.bits beyond what
// image/jpeg would have read, as many as fit in 64 bits, as long as they are
// in the buffer already and none is 0xff (a stuffed byte or a marker, which
// the byte-at-a-time path handles). It may load none.
func (d *decoder) readAhead() {
	d.bits.a, d.bits.nb = d.readAheadInto(d.bits.a, d.bits.nb)
}

// readAheadInto is readAhead for an accumulator a holding nb bits.
func (d *decoder) readAheadInto(a uint64, nb int32) (uint64, int32) {
	i := d.bytes.i
	if i+8 > d.bytes.j || i < 0 {
		return a, nb
	}
	x := binary.BigEndian.Uint64(d.bytes.buf[i:])
	// The high bit of each byte of ff is set where x has 0xff, and perhaps
	// in a byte before such a byte, which only stops the load early.
	y := ^x
	ff := (y - 0x0101010101010101) &^ y & 0x8080808080808080
	k := int32(mbits.LeadingZeros64(ff) >> 3) // bytes before the first 0xff
	k = min(k, (64-nb)>>3)
	if k <= 0 {
		return a, nb
	}
	d.bytes.i = i + int(k)
	// Taking one of these bytes is what readByteStuffedByte of a byte that
	// is not 0xff leaves behind.
	d.bytes.nUnreadable = 1
	return a<<(8*k) | x>>(64-8*k), nb + 8*k
}

// sync gives the bytes read ahead back to the byte buffer, leaving d.bits
// and d.bytes as image/jpeg's byte-at-a-time reading would have.
func (d *decoder) sync() {
	if k := (d.bits.nb - d.bits.n) >> 3; k > 0 {
		d.bits.a >>= 8 * k
		d.bits.nb = d.bits.n
		d.bytes.i -= int(k)
	}
}

// ensureNBits takes bytes until d.bits.n is at least n: those read ahead
// first, then from the byte buffer, a byte at a time, exactly as image/jpeg
// does. For best performance (avoiding function calls inside hot loops),
// the caller is the one responsible for first checking that d.bits.n < n.
func (d *decoder) ensureNBits(n int32) error {
	for d.bits.n < n {
		if d.bits.nb-d.bits.n >= 8 {
			d.bits.n += 8
			continue
		}
		if d.readAhead(); d.bits.nb-d.bits.n >= 8 {
			continue
		}
		c, err := d.readByteStuffedByte()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				return errShortHuffmanData
			}
			return err
		}
		d.bits.a = d.bits.a<<8 | uint64(c)
		d.bits.n += 8
		d.bits.nb += 8
	}
	return nil
}

// receiveExtend is the composition of RECEIVE and EXTEND, specified in section
// F.2.2.1.
func (d *decoder) receiveExtend(t uint8) (int32, error) {
	if d.bits.n < int32(t) {
		if err := d.ensureNBits(int32(t)); err != nil {
			return 0, err
		}
	}
	d.bits.n -= int32(t)
	d.bits.nb -= int32(t)
	return extend(uint32(d.bits.a>>uint32(d.bits.nb)), t), nil
}

// extend is EXTEND of the low t bits of x.
func extend(x uint32, t uint8) int32 {
	s := int32(1) << t
	v := int32(x) & (s - 1)
	if v < s>>1 {
		v += ((-1) << t) + 1
	}
	return v
}

// processDHT processes a Define Huffman Table marker, and initializes a huffman
// struct from its contents. Specified in section B.2.4.2.
func (d *decoder) processDHT(n int) error {
	for n > 0 {
		if n < 17 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(d.tmp[:17]); err != nil {
			return err
		}
		tc := d.tmp[0] >> 4
		if tc > maxTc {
			return FormatError("bad Tc value")
		}
		th := d.tmp[0] & 0x0f
		// The baseline th <= 1 restriction is specified in table B.5.
		if th > maxTh || (d.baseline && th > 1) {
			return FormatError("bad Th value")
		}
		h := &d.huff[tc][th]

		// Read nCodes and h.vals (and derive h.nCodes).
		// nCodes[i] is the number of codes with code length i.
		// h.nCodes is the total number of codes.
		h.nCodes = 0
		var nCodes [maxCodeLength]int32
		for i := range nCodes {
			nCodes[i] = int32(d.tmp[i+1])
			h.nCodes += nCodes[i]
		}
		if h.nCodes == 0 {
			return FormatError("Huffman table has zero length")
		}
		if h.nCodes > maxNCodes {
			return FormatError("Huffman table has excessive length")
		}
		n -= int(h.nCodes) + 17
		if n < 0 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(h.vals[:h.nCodes]); err != nil {
			return err
		}

		// A table whose code counts over-subscribe some length (more codes
		// than the shorter ones leave room for) is no prefix code. image/jpeg
		// still decodes with it, by its 8-bit table, where later codes wrap
		// round over earlier ones, and its bit-at-a-time search; such a
		// table keeps exactly that, and has no 9-bit tables.
		h.irregular = false
		for i, room := 0, int32(1); i < maxCodeLength; i++ {
			room = room<<1 - nCodes[i]
			if room < 0 {
				h.irregular = true
				break
			}
		}

		// Derive image/jpeg's look-up table.
		clear(h.lut8[:])
		var x, code uint32
		for i := uint32(0); i < 8; i++ {
			code <<= 1
			for j := int32(0); j < nCodes[i]; j++ {
				// The codeLength is 1+i, so shift code by 8-(1+i) to
				// calculate the high bits for every 8-bit sequence
				// whose codeLength's high bits matches code.
				// The high 8 bits of lutValue are the encoded value.
				// The low 8 bits are 1 plus the codeLength.
				base := uint8(code << (7 - i))
				lutValue := uint16(h.vals[x])<<8 | uint16(2+i)
				for k := uint8(0); k < 1<<(7-i); k++ {
					h.lut8[base|k] = lutValue
				}
				code++
				x++
			}
		}

		// Derive the 9-bit look-up table.
		clear(h.lut[:])
		x, code = 0, 0
		for i := uint32(0); i < lutSize && !h.irregular; i++ {
			code <<= 1
			for j := int32(0); j < nCodes[i]; j++ {
				// As above, with lutSize bits and the codeLength itself.
				base := code << (lutSize - 1 - i)
				lutValue := uint16(h.vals[x])<<8 | uint16(1+i)
				for k := uint32(0); k < 1<<(lutSize-1-i); k++ {
					h.lut[base|k] = lutValue
				}
				code++
				x++
			}
		}

		// Derive the combined look-up table.
		for i, e := range h.lut {
			l, run, t := uint32(e&0xff), int32(e>>12), uint32(e>>8)&0x0f
			if e == 0 || t == 0 || l+t > lutSize {
				h.fastAC[i] = 0
				continue
			}
			k := extend(uint32(i)>>(lutSize-l-t), uint8(t))
			h.fastAC[i] = k<<16 | run<<8 | int32(l+t)
		}

		// Derive minCodes, maxCodes, and valsIndices.
		var c, index int32
		for i, n := range nCodes {
			if n == 0 {
				h.minCodes[i] = -1
				h.maxCodes[i] = -1
				h.valsIndices[i] = -1
			} else {
				h.minCodes[i] = c
				h.maxCodes[i] = c + n - 1
				h.valsIndices[i] = index
				c += n
				index += n
			}
			c <<= 1
		}
	}
	return nil
}

// decodeHuffman returns the next Huffman-coded value from the bit-stream,
// decoded according to h.
//
// image/jpeg takes bytes until it has 8 bits, looks the code up in an 8-bit
// table and, for a longer code, takes bits one at a time: an L-bit code
// takes from the byte-stream what max(8, L) bits need. With 16 bits in
// hand, read ahead or not, this does the same in one look-up.
func (d *decoder) decodeHuffman(h *huffman) (uint8, error) {
	if h.nCodes == 0 {
		return 0, FormatError("uninitialized Huffman table")
	}
	if d.bits.nb < 16 {
		d.readAhead()
	}
	if d.bits.nb >= 16 && !h.irregular {
		peek := uint32(d.bits.a>>uint32(d.bits.nb-16)) & 0xffff
		var l int32
		var v uint8
		if e := h.lut[peek>>(16-lutSize)]; e != 0 {
			l, v = int32(e&0xff), uint8(e>>8)
		} else {
			for i := lutSize; ; i++ {
				if i == maxCodeLength {
					return 0, FormatError("bad Huffman code")
				}
				if code := int32(peek >> (15 - i)); code <= h.maxCodes[i] {
					l, v = int32(i+1), h.vals[h.valsIndices[i]+code-h.minCodes[i]]
					break
				}
			}
		}
		d.take(max(8, l))
		d.bits.n -= l
		d.bits.nb -= l
		return v, nil
	}

	if d.bits.n < 8 {
		if err := d.ensureNBits(8); err != nil {
			if err != errMissingFF00 && err != errShortHuffmanData {
				return 0, err
			}
			// There are no more bytes of data in this segment, but we may still
			// be able to read the next symbol out of the previously read bits.
			// First, undo the readByte that the ensureNBits call made.
			if d.bytes.nUnreadable != 0 {
				d.unreadByteStuffedByte()
			}
			goto slowPath
		}
	}
	if v := h.lut8[(d.bits.a>>uint32(d.bits.nb-8))&0xff]; v != 0 {
		n := int32(v&0xff) - 1
		d.bits.n -= n
		d.bits.nb -= n
		return uint8(v >> 8), nil
	}

slowPath:
	for i, code := 0, int32(0); i < maxCodeLength; i++ {
		if d.bits.n == 0 {
			if err := d.ensureNBits(1); err != nil {
				return 0, err
			}
		}
		d.bits.n--
		d.bits.nb--
		code |= int32(d.bits.a>>uint32(d.bits.nb)) & 1
		if code <= h.maxCodes[i] {
			return h.vals[h.valsIndices[i]+code-h.minCodes[i]], nil
		}
		code <<= 1
	}
	return 0, FormatError("bad Huffman code")
}

// take moves whole bytes read ahead into what image/jpeg would have read,
// until d.bits.n is at least n. There must be enough read ahead.
func (d *decoder) take(n int32) {
	for d.bits.n < n {
		d.bits.n += 8
	}
}

func (d *decoder) decodeBit() (bool, error) {
	if d.bits.n == 0 {
		if err := d.ensureNBits(1); err != nil {
			return false, err
		}
	}
	d.bits.n--
	d.bits.nb--
	return d.bits.a>>uint32(d.bits.nb)&1 != 0, nil
}

func (d *decoder) decodeBits(n int32) (uint32, error) {
	if d.bits.n < n {
		if err := d.ensureNBits(n); err != nil {
			return 0, err
		}
	}
	d.bits.n -= n
	d.bits.nb -= n
	return uint32(d.bits.a>>uint32(d.bits.nb)) & (1<<uint32(n) - 1), nil
}
