package icc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Curve is a one-dimensional transfer function on [0,1]: an ICC curveType
// ("curv": identity, a gamma, or a table) or parametricCurveType ("para",
// function types 0 to 4), or one of the transfer functions of ITU-T H.273
// that images tag with CICP.
type Curve struct {
	kind  curveKind
	p     [7]float64 // g, a, b, c, d, e, f of a parametric curve
	table []float64  // sampled values, evenly spaced over [0,1]
}

type curveKind uint8

const (
	curveIdentity curveKind = iota
	curveParametric
	curveTable
	curvePQ  // SMPTE ST 2084, tone-mapped to SDR (see rollOff)
	curveHLG // ARIB STD-B67, tone-mapped to SDR (see rollOff)
	curve709 // BT.709 inverse OETF
)

// Gamma returns the curve y = x^g.
func Gamma(g float64) Curve {
	if g == 1 {
		return Curve{}
	}
	return Curve{kind: curveParametric, p: [7]float64{g, 1, 0, 0, 0, 0, 0}}
}

// Parametric returns the ICC parametric curve of function type 4,
// y = (a·x+b)^g + e for x ≥ d, else c·x + f. The other types are special
// cases of it.
func Parametric(g, a, b, c, d, e, f float64) Curve {
	return Curve{kind: curveParametric, p: [7]float64{g, a, b, c, d, e, f}}
}

// SRGBCurve is the sRGB (IEC 61966-2-1) decoding curve.
var SRGBCurve = Parametric(2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045, 0, 0)

// Linear is the identity curve.
var Linear = Curve{}

// Rec709 is the BT.709 (and BT.601, BT.2020) inverse OETF.
var Rec709 = Curve{kind: curve709}

// PQ decodes SMPTE ST 2084 (BT.2100 PQ) and tone-maps it to SDR: see
// rollOff.
var PQ = Curve{kind: curvePQ}

// HLG decodes ARIB STD-B67 (BT.2100 HLG) for a 1000 cd/m² display and
// tone-maps it to SDR: see rollOff.
var HLG = Curve{kind: curveHLG}

// rollOff maps HDR light x, where 1 is HDR reference white (203 cd/m²), to
// SDR linear light: unchanged up to 0.75, then an exponential shoulder
// that is tangent there and approaches 1, so reference white lands at 0.91
// and a 1000 cd/m² highlight at 1.0 instead of clipping everything above
// white. It is per channel, which desaturates the brightest highlights
// slightly; an SDR JPEG cannot show them anyway.
func rollOff(x float64) float64 {
	const k = 0.75
	if x <= k {
		return x
	}
	return k + (1-k)*(1-math.Exp(-(x-k)/(1-k)))
}

// Sample tabulates f at n evenly spaced points of [0,1] as a curve that
// interpolates linearly between them.
func Sample(f func(float64) float64, n int) Curve {
	t := make([]float64, n)
	for i := range t {
		t[i] = f(float64(i) / float64(n-1))
	}
	return Curve{kind: curveTable, table: t}
}

// SRGBDecode is the sRGB decoding function, with the linear segment.
func SRGBDecode(x float64) float64 {
	if x <= 0.04045 {
		return x / 12.92
	}
	return math.Pow((x+0.055)/1.055, 2.4)
}

// SRGBEncode is the inverse of SRGBDecode.
func SRGBEncode(y float64) float64 {
	if y <= 0.0031308 {
		return y * 12.92
	}
	return 1.055*math.Pow(y, 1/2.4) - 0.055
}

// Equal reports whether c and d are the same function.
func (c Curve) Equal(d Curve) bool {
	return c.kind == d.kind && c.p == d.p && slices.Equal(c.table, d.table)
}

// Eval returns the curve's value at x, which is clamped to [0,1] first.
func (c *Curve) Eval(x float64) float64 {
	x = min(max(x, 0), 1)
	switch c.kind {
	case curveParametric:
		g, a, b, cc, d, e, f := c.p[0], c.p[1], c.p[2], c.p[3], c.p[4], c.p[5], c.p[6]
		if x < d {
			return cc*x + f
		}
		if v := a*x + b; v > 0 {
			return math.Pow(v, g) + e
		}
		return e
	case curveTable:
		return interp1(c.table, x)
	case curve709:
		if x < 0.081 {
			return x / 4.5
		}
		return math.Pow((x+0.099)/1.099, 1/0.45)
	case curvePQ:
		// ST 2084 EOTF in cd/m², relative to the 203 cd/m² of HDR
		// reference white (BT.2408), then rolled off into SDR range.
		const m1, m2 = 2610.0 / 16384, 2523.0 / 4096 * 128
		const c1, c2, c3 = 3424.0 / 4096, 2413.0 / 4096 * 32, 2392.0 / 4096 * 32
		p := math.Pow(x, 1/m2)
		nits := 10000 * math.Pow(max(p-c1, 0)/(c2-c3*p), 1/m1)
		return rollOff(nits / 203)
	case curveHLG:
		// ARIB STD-B67 inverse OETF, then the BT.2100 OOTF of a
		// 1000 cd/m² display (system gamma 1.2) per channel, relative
		// to 203 cd/m², rolled off like PQ.
		const a, b, cc = 0.17883277, 0.28466892, 0.55991073
		e := x * x / 3
		if x > 0.5 {
			e = (math.Exp((x-cc)/a) + b) / 12
		}
		return rollOff(1000 * math.Pow(e, 1.2) / 203)
	}
	return x
}

// interp1 interpolates linearly in a table sampled evenly over [0,1].
func interp1(t []float64, x float64) float64 {
	n := len(t) - 1
	if n <= 0 {
		if n == 0 {
			return t[0]
		}
		return x
	}
	pos := x * float64(n)
	i := int(pos)
	if i >= n {
		return t[n]
	}
	f := pos - float64(i)
	return t[i] + f*(t[i+1]-t[i])
}

// maxCurveEntries bounds a curveType table: 16-bit tables never need more
// than 65536 entries, and each becomes a float64 here.
const maxCurveEntries = 1 << 16

// parseCurve reads a curv or para element at the start of b and returns it
// with the number of bytes it occupies (before any padding).
func parseCurve(b []byte) (Curve, int, error) {
	if len(b) < 12 {
		return Curve{}, 0, errors.New("curve element is truncated")
	}
	switch string(b[:4]) {
	case "curv":
		n := int(binary.BigEndian.Uint32(b[8:]))
		size := 12 + 2*n
		if n > maxCurveEntries || size > len(b) {
			return Curve{}, 0, fmt.Errorf("curve of %d entries does not fit its tag", n)
		}
		switch n {
		case 0:
			return Curve{}, size, nil
		case 1:
			// u8Fixed8Number gamma.
			return Gamma(float64(binary.BigEndian.Uint16(b[12:])) / 256), size, nil
		}
		t := make([]float64, n)
		for i := range t {
			t[i] = float64(binary.BigEndian.Uint16(b[12+2*i:])) / 65535
		}
		return Curve{kind: curveTable, table: t}, size, nil
	case "para":
		kind := binary.BigEndian.Uint16(b[8:])
		counts := [5]int{1, 3, 4, 5, 7}
		if kind > 4 {
			return Curve{}, 0, fmt.Errorf("parametric curve of unknown type %d", kind)
		}
		n := counts[kind]
		size := 12 + 4*n
		if size > len(b) {
			return Curve{}, 0, errors.New("parametric curve is truncated")
		}
		var v [7]float64
		for i := range n {
			v[i] = s15f16(b[12+4*i:])
		}
		g, a, bb, c, d, e, f := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
		switch kind {
		case 0: // y = x^g
			return Gamma(g), size, nil
		case 1: // y = (ax+b)^g for x ≥ -b/a, else 0
			return Parametric(g, a, bb, 0, threshold(a, bb), 0, 0), size, nil
		case 2: // y = (ax+b)^g + c for x ≥ -b/a, else c
			return Parametric(g, a, bb, 0, threshold(a, bb), c, c), size, nil
		case 3: // y = (ax+b)^g for x ≥ d, else cx
			return Parametric(g, a, bb, c, d, 0, 0), size, nil
		default: // y = (ax+b)^g + e for x ≥ d, else cx + f
			return Parametric(g, a, bb, c, d, e, f), size, nil
		}
	}
	return Curve{}, 0, fmt.Errorf("element type %q is not a curve", string(b[:4]))
}

func threshold(a, b float64) float64 {
	if a == 0 {
		return 0
	}
	return -b / a
}
