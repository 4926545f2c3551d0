package icc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// lut is an A2B transform: input curves, a colour look-up table, and
// output curves (plus, for lutAToBType, M curves and a matrix between the
// table and the output curves), ending in PCS values.
type lut struct {
	nIn       int
	aCurves   []Curve // per input channel; nil when absent
	clut      *clut   // nil when absent (then nIn is 3)
	mCurves   []Curve
	matrix    *[12]float64
	bCurves   []Curve // per output channel
	lab       bool    // PCS is Lab (else XYZ)
	legacyLab bool    // lut16Type Lab: 0xFF00 is L* = 100
}

// clut is a table sampled on a regular grid over [0,1]^n with 3 outputs.
type clut struct {
	grid   []int
	stride []int // in float32 elements; the last input varies fastest
	data   []float32
}

// maxCLUTEntries bounds the grid points of a table (an 8-bit 4-channel
// table with 33 points a side has 1.2 M); the data must also fit the tag.
const maxCLUTEntries = 1 << 24

func parseLUT(b []byte, nIn int, lab bool) (*lut, error) {
	if len(b) < 32 {
		return nil, errors.New("icc: A2B0 tag is truncated")
	}
	in, out := int(b[8]), int(b[9])
	if in != nIn || out != 3 {
		return nil, fmt.Errorf("icc: A2B0 maps %d channels to %d; want %d to 3", in, out, nIn)
	}
	l := &lut{nIn: nIn, lab: lab}
	switch string(b[:4]) {
	case "mft1", "mft2":
		if len(b) < 52 {
			return nil, errors.New("icc: A2B0 tag is truncated")
		}
		grid := int(b[10])
		prec, inN, outN, p := 1, 256, 256, 48
		if string(b[:4]) == "mft2" {
			prec, inN, outN, p = 2, int(binary.BigEndian.Uint16(b[48:])), int(binary.BigEndian.Uint16(b[50:])), 52
			l.legacyLab = lab
			if inN < 2 || outN < 2 || inN > maxCurveEntries || outN > maxCurveEntries {
				return nil, errors.New("icc: A2B0 has a table of fewer than 2 entries")
			}
		}
		var err error
		if l.aCurves, p, err = sampledCurves(b, p, nIn, inN, prec); err != nil {
			return nil, err
		}
		grids := make([]int, nIn)
		for i := range grids {
			grids[i] = grid
		}
		var n int
		if l.clut, n, err = parseCLUT(b[p:], grids, prec); err != nil {
			return nil, err
		}
		if l.bCurves, _, err = sampledCurves(b, p+n, 3, outN, prec); err != nil {
			return nil, err
		}
	case "mAB ":
		offs := [5]int{}
		for i := range offs {
			offs[i] = int(binary.BigEndian.Uint32(b[12+4*i:]))
			if offs[i] >= len(b) {
				return nil, errors.New("icc: A2B0 element points outside its tag")
			}
		}
		bOff, mtxOff, mOff, clutOff, aOff := offs[0], offs[1], offs[2], offs[3], offs[4]
		var err error
		if bOff == 0 {
			return nil, errors.New("icc: A2B0 has no B curves")
		}
		if l.bCurves, err = curveSeq(b, bOff, 3); err != nil {
			return nil, err
		}
		if mOff != 0 {
			if l.mCurves, err = curveSeq(b, mOff, 3); err != nil {
				return nil, err
			}
		}
		if mtxOff != 0 {
			if mtxOff+48 > len(b) {
				return nil, errors.New("icc: A2B0 matrix is truncated")
			}
			var m [12]float64
			for i := range m {
				m[i] = s15f16(b[mtxOff+4*i:])
			}
			l.matrix = &m
		}
		if aOff != 0 {
			if l.aCurves, err = curveSeq(b, aOff, nIn); err != nil {
				return nil, err
			}
		}
		if clutOff != 0 {
			c := b[clutOff:]
			if len(c) < 20 {
				return nil, errors.New("icc: A2B0 table is truncated")
			}
			grids := make([]int, nIn)
			for i := range grids {
				grids[i] = int(c[i])
			}
			prec := int(c[16])
			if prec != 1 && prec != 2 {
				return nil, fmt.Errorf("icc: A2B0 table precision %d", prec)
			}
			if l.clut, _, err = parseCLUT(c[20:], grids, prec); err != nil {
				return nil, err
			}
		} else if nIn != 3 {
			return nil, errors.New("icc: A2B0 without a table must have 3 inputs")
		}
	default:
		return nil, fmt.Errorf("%w: A2B0 of type %q", ErrUnsupported, string(b[:4]))
	}
	return l, nil
}

// sampledCurves reads n lut8/lut16 tables of entries values each.
func sampledCurves(b []byte, p, n, entries, prec int) ([]Curve, int, error) {
	if p+n*entries*prec > len(b) {
		return nil, 0, errors.New("icc: A2B0 curve tables do not fit the tag")
	}
	cs := make([]Curve, n)
	for i := range cs {
		t := make([]float64, entries)
		for j := range t {
			if prec == 1 {
				t[j] = float64(b[p]) / 255
			} else {
				t[j] = float64(binary.BigEndian.Uint16(b[p:])) / 65535
			}
			p += prec
		}
		cs[i] = Curve{kind: curveTable, table: t}
	}
	return cs, p, nil
}

// curveSeq reads n curv/para elements, each padded to 4 bytes.
func curveSeq(b []byte, p, n int) ([]Curve, error) {
	cs := make([]Curve, n)
	for i := range cs {
		if p >= len(b) {
			return nil, errors.New("icc: A2B0 curves run past the tag")
		}
		c, size, err := parseCurve(b[p:])
		if err != nil {
			return nil, fmt.Errorf("icc: A2B0: %w", err)
		}
		cs[i] = c
		p += (size + 3) &^ 3
	}
	return cs, nil
}

func parseCLUT(b []byte, grids []int, prec int) (*clut, int, error) {
	n := 1
	for _, g := range grids {
		if g < 2 {
			return nil, 0, fmt.Errorf("icc: A2B0 table with %d grid points", g)
		}
		n *= g
		if n > maxCLUTEntries {
			return nil, 0, errors.New("icc: A2B0 table is too large")
		}
	}
	size := n * 3 * prec
	if size > len(b) {
		return nil, 0, errors.New("icc: A2B0 table does not fit the tag")
	}
	c := &clut{grid: grids, stride: make([]int, len(grids)), data: make([]float32, 3*n)}
	s := 3
	for i := len(grids) - 1; i >= 0; i-- {
		c.stride[i] = s
		s *= grids[i]
	}
	for i := range c.data {
		if prec == 1 {
			c.data[i] = float32(b[i]) / 255
		} else {
			c.data[i] = float32(binary.BigEndian.Uint16(b[2*i:])) / 65535
		}
	}
	return c, size, nil
}

func (l *lut) eval(in []float64) [3]float64 {
	var buf [4]float64
	v := buf[:l.nIn]
	for i := range v {
		v[i] = min(max(in[i], 0), 1)
		if l.aCurves != nil {
			v[i] = l.aCurves[i].Eval(v[i])
		}
	}
	var o [3]float64
	if l.clut != nil {
		o = l.clut.eval(v)
	} else {
		o = [3]float64{v[0], v[1], v[2]}
	}
	if l.mCurves != nil {
		for i := range o {
			o[i] = l.mCurves[i].Eval(o[i])
		}
	}
	if m := l.matrix; m != nil {
		o = [3]float64{
			m[0]*o[0] + m[1]*o[1] + m[2]*o[2] + m[9],
			m[3]*o[0] + m[4]*o[1] + m[5]*o[2] + m[10],
			m[6]*o[0] + m[7]*o[1] + m[8]*o[2] + m[11],
		}
	}
	for i := range o {
		o[i] = l.bCurves[i].Eval(o[i])
	}
	var xyz [3]float64
	switch {
	case l.legacyLab:
		const k = 65535.0 / 65280
		xyz = labToXYZ(o[0]*k*100, o[1]*k*255-128, o[2]*k*255-128)
	case l.lab:
		xyz = labToXYZ(o[0]*100, o[1]*255-128, o[2]*255-128)
	default:
		const k = 65535.0 / 32768
		xyz = [3]float64{o[0] * k, o[1] * k, o[2] * k}
	}
	return xyzD50ToSRGB.Apply(xyz)
}

// eval interpolates the table at v: tetrahedrally for three inputs, and
// for four (CMYK) tetrahedrally in the last three and linearly in the
// first, as Little CMS does; multilinearly otherwise.
func (c *clut) eval(v []float64) [3]float64 {
	switch len(v) {
	case 3:
		base, f := 0, [3]float64{}
		var st [3]int
		for i := range 3 {
			var idx int
			idx, f[i] = cell(v[i], c.grid[i])
			base += idx * c.stride[i]
			st[i] = c.stride[i]
		}
		return c.tetra(base, st, f)
	case 4:
		i0, f0 := cell(v[0], c.grid[0])
		base, f := i0*c.stride[0], [3]float64{}
		var st [3]int
		for i := range 3 {
			var idx int
			idx, f[i] = cell(v[i+1], c.grid[i+1])
			base += idx * c.stride[i+1]
			st[i] = c.stride[i+1]
		}
		a := c.tetra(base, st, f)
		b := c.tetra(base+c.stride[0], st, f)
		return [3]float64{a[0] + f0*(b[0]-a[0]), a[1] + f0*(b[1]-a[1]), a[2] + f0*(b[2]-a[2])}
	}
	var out [3]float64
	n := len(v)
	var idx [4]int
	var fr [4]float64
	for i := range n {
		idx[i], fr[i] = cell(v[i], c.grid[i])
	}
	for corner := 0; corner < 1<<n; corner++ {
		w, off := 1.0, 0
		for i := range n {
			if corner&(1<<i) != 0 {
				w *= fr[i]
				off += (idx[i] + 1) * c.stride[i]
			} else {
				w *= 1 - fr[i]
				off += idx[i] * c.stride[i]
			}
		}
		if w == 0 {
			continue
		}
		for k := range 3 {
			out[k] += w * float64(c.data[off+k])
		}
	}
	return out
}

// cell returns the grid cell holding x and the position within it; the
// last cell is used for x = 1 so the upper neighbour always exists.
func cell(x float64, grid int) (int, float64) {
	p := x * float64(grid-1)
	i := int(p)
	if i >= grid-1 {
		i = grid - 2
	}
	return i, p - float64(i)
}

func (c *clut) tetra(base int, s [3]int, f [3]float64) [3]float64 {
	d := c.data
	at := func(off, k int) float64 { return float64(d[base+off+k]) }
	rx, ry, rz := f[0], f[1], f[2]
	sx, sy, sz := s[0], s[1], s[2]
	var out [3]float64
	for k := range 3 {
		c0 := at(0, k)
		var c1, c2, c3 float64
		switch {
		case rx >= ry && ry >= rz:
			c1 = at(sx, k) - c0
			c2 = at(sx+sy, k) - at(sx, k)
			c3 = at(sx+sy+sz, k) - at(sx+sy, k)
		case rx >= rz && rz >= ry:
			c1 = at(sx, k) - c0
			c3 = at(sx+sz, k) - at(sx, k)
			c2 = at(sx+sy+sz, k) - at(sx+sz, k)
		case rz >= rx && rx >= ry:
			c3 = at(sz, k) - c0
			c1 = at(sx+sz, k) - at(sz, k)
			c2 = at(sx+sy+sz, k) - at(sx+sz, k)
		case ry >= rx && rx >= rz:
			c2 = at(sy, k) - c0
			c1 = at(sx+sy, k) - at(sy, k)
			c3 = at(sx+sy+sz, k) - at(sx+sy, k)
		case ry >= rz && rz >= rx:
			c2 = at(sy, k) - c0
			c3 = at(sy+sz, k) - at(sy, k)
			c1 = at(sx+sy+sz, k) - at(sy+sz, k)
		default: // rz >= ry >= rx
			c3 = at(sz, k) - c0
			c2 = at(sy+sz, k) - at(sz, k)
			c1 = at(sx+sy+sz, k) - at(sy+sz, k)
		}
		out[k] = c0 + c1*rx + c2*ry + c3*rz
	}
	return out
}

// Table is a profile's whole transform to encoded sRGB (clipped to
// [0,1]) sampled on a regular grid, for converting many pixels: looking
// up one interpolated value costs a fraction of evaluating the profile's
// curves and tables, at a small loss of accuracy. Little CMS does the same
// for 8-bit data.
type Table struct {
	c *clut
	// For 8-bit input: the grid cell and the position in it of each code
	// value, which are the same on every axis.
	idx  [256]int32
	frac [256]float32
}

// Sampled tabulates p with n grid points a side.
func (p *Profile) Sampled(n int) *Table {
	ch := p.Space.Channels()
	total := 1
	for range ch {
		total *= n
	}
	c := &clut{grid: make([]int, ch), stride: make([]int, ch), data: make([]float32, 3*total)}
	s := 3
	for i := ch - 1; i >= 0; i-- {
		c.grid[i], c.stride[i] = n, s
		s *= n
	}
	in := make([]float64, ch)
	for i := range total {
		r := i
		for d := ch - 1; d >= 0; d-- {
			in[d] = float64(r%n) / float64(n-1)
			r /= n
		}
		o := p.Eval(in)
		for k := range 3 {
			c.data[3*i+k] = float32(SRGBEncode(min(max(o[k], 0), 1)))
		}
	}
	t := &Table{c: c}
	for v := range 256 {
		i, f := cell(float64(v)/255, n)
		t.idx[v], t.frac[v] = int32(i), float32(f)
	}
	return t
}

// Eval4x8 is Eval for four 8-bit channels, in float32: linear in the
// first channel, tetrahedral in the other three.
func (t *Table) Eval4x8(px [4]uint8) [3]float32 {
	c := t.c
	s0, s1, s2, s3 := c.stride[0], c.stride[1], c.stride[2], c.stride[3]
	base := int(t.idx[px[0]])*s0 + int(t.idx[px[1]])*s1 + int(t.idx[px[2]])*s2 + int(t.idx[px[3]])*s3
	f0, rx, ry, rz := t.frac[px[0]], t.frac[px[1]], t.frac[px[2]], t.frac[px[3]]
	// The three corners after the origin along the path of the
	// tetrahedron holding (rx, ry, rz), with their weights.
	var o1, o2, o3 int
	var w1, w2, w3 float32
	switch {
	case rx >= ry && ry >= rz:
		o1, o2, o3, w1, w2, w3 = s1, s1+s2, s1+s2+s3, rx, ry, rz
	case rx >= rz && rz >= ry:
		o1, o2, o3, w1, w2, w3 = s1, s1+s3, s1+s2+s3, rx, rz, ry
	case rz >= rx && rx >= ry:
		o1, o2, o3, w1, w2, w3 = s3, s1+s3, s1+s2+s3, rz, rx, ry
	case ry >= rx && rx >= rz:
		o1, o2, o3, w1, w2, w3 = s2, s1+s2, s1+s2+s3, ry, rx, rz
	case ry >= rz && rz >= rx:
		o1, o2, o3, w1, w2, w3 = s2, s2+s3, s1+s2+s3, ry, rz, rx
	default:
		o1, o2, o3, w1, w2, w3 = s3, s2+s3, s1+s2+s3, rz, ry, rx
	}
	// Barycentric weights of origin and the three corners.
	b0, b1, b2, b3 := 1-w1, w1-w2, w2-w3, w3
	d := c.data
	var out [3]float32
	for k := range 3 {
		lo := b0*d[base+k] + b1*d[base+o1+k] + b2*d[base+o2+k] + b3*d[base+o3+k]
		h := base + s0
		hi := b0*d[h+k] + b1*d[h+o1+k] + b2*d[h+o2+k] + b3*d[h+o3+k]
		out[k] = lo + f0*(hi-lo)
	}
	return out
}

// Eval returns the encoded sRGB value at in (len equal to the channels).
func (t *Table) Eval(in []float64) [3]float64 { return t.c.eval(in) }
