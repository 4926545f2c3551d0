package icc

// Mat3 is a 3×3 matrix acting on column vectors.
type Mat3 [3][3]float64

// Identity is the identity matrix.
var Identity = Mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}

// Mul returns m·n.
func (m Mat3) Mul(n Mat3) Mat3 {
	var r Mat3
	for i := range 3 {
		for j := range 3 {
			r[i][j] = m[i][0]*n[0][j] + m[i][1]*n[1][j] + m[i][2]*n[2][j]
		}
	}
	return r
}

// Apply returns m·v.
func (m Mat3) Apply(v [3]float64) [3]float64 {
	return [3]float64{
		m[0][0]*v[0] + m[0][1]*v[1] + m[0][2]*v[2],
		m[1][0]*v[0] + m[1][1]*v[1] + m[1][2]*v[2],
		m[2][0]*v[0] + m[2][1]*v[1] + m[2][2]*v[2],
	}
}

// Inverse returns m⁻¹ (the zero matrix when m is singular).
func (m Mat3) Inverse() Mat3 {
	a, b, c := m[0][0], m[0][1], m[0][2]
	d, e, f := m[1][0], m[1][1], m[1][2]
	g, h, i := m[2][0], m[2][1], m[2][2]
	det := a*(e*i-f*h) - b*(d*i-f*g) + c*(d*h-e*g)
	if det == 0 {
		return Mat3{}
	}
	k := 1 / det
	return Mat3{
		{(e*i - f*h) * k, (c*h - b*i) * k, (b*f - c*e) * k},
		{(f*g - d*i) * k, (a*i - c*g) * k, (c*d - a*f) * k},
		{(d*h - e*g) * k, (b*g - a*h) * k, (a*e - b*d) * k},
	}
}

// The PCS illuminant (ICC.1 7.2.16) and sRGB's white, as XYZ with Y = 1.
var (
	d50 = [3]float64{0.9642, 1, 0.8249}
	d65 = xyToXYZ([2]float64{0.3127, 0.3290})
)

// Primaries of the RGB spaces CICP and PNG name, as CIE xy.
var (
	SRGBPrimaries    = [4][2]float64{{0.64, 0.33}, {0.30, 0.60}, {0.15, 0.06}, {0.3127, 0.3290}}
	P3D65Primaries   = [4][2]float64{{0.680, 0.320}, {0.265, 0.690}, {0.150, 0.060}, {0.3127, 0.3290}}
	Rec2020Primaries = [4][2]float64{{0.708, 0.292}, {0.170, 0.797}, {0.131, 0.046}, {0.3127, 0.3290}}
)

var (
	srgbToXYZD65 = rgbToXYZ(SRGBPrimaries[0], SRGBPrimaries[1], SRGBPrimaries[2], SRGBPrimaries[3])
	xyzD65ToSRGB = srgbToXYZD65.Inverse()
	// xyzD50ToSRGB is the inverse of sRGB's colorant matrix as an ICC
	// profile states it: adapted from D65 to the D50 PCS with Bradford.
	xyzD50ToSRGB = bradford(d65, d50).Mul(srgbToXYZD65).Inverse()
)

func xyToXYZ(xy [2]float64) [3]float64 {
	return [3]float64{xy[0] / xy[1], 1, (1 - xy[0] - xy[1]) / xy[1]}
}

// rgbToXYZ returns the matrix from linear RGB to XYZ of the space with
// primaries r, g, b and white w, scaled so that RGB white has Y = 1.
func rgbToXYZ(r, g, b, w [2]float64) Mat3 {
	cr, cg, cb := xyToXYZ(r), xyToXYZ(g), xyToXYZ(b)
	m := Mat3{{cr[0], cg[0], cb[0]}, {cr[1], cg[1], cb[1]}, {cr[2], cg[2], cb[2]}}
	s := m.Inverse().Apply(xyToXYZ(w))
	for i := range 3 {
		for j := range 3 {
			m[i][j] *= s[j]
		}
	}
	return m
}

var (
	bradfordM    = Mat3{{0.8951, 0.2664, -0.1614}, {-0.7502, 1.7135, 0.0367}, {0.0389, -0.0685, 1.0296}}
	bradfordMInv = bradfordM.Inverse()
)

// bradford returns the linear Bradford chromatic adaptation from white
// src to white dst (ICC.1 Annex E).
func bradford(src, dst [3]float64) Mat3 {
	s, d := bradfordM.Apply(src), bradfordM.Apply(dst)
	return bradfordMInv.Mul(Mat3{{d[0] / s[0], 0, 0}, {0, d[1] / s[1], 0}, {0, 0, d[2] / s[2]}}).Mul(bradfordM)
}

// labToXYZ converts CIELAB relative to the D50 PCS white to XYZ.
func labToXYZ(l, a, b float64) [3]float64 {
	fy := (l + 16) / 116
	fx := fy + a/500
	fz := fy - b/200
	finv := func(t float64) float64 {
		if t > 6.0/29 {
			return t * t * t
		}
		return 3 * (6.0 / 29) * (6.0 / 29) * (t - 4.0/29)
	}
	return [3]float64{d50[0] * finv(fx), d50[1] * finv(fy), d50[2] * finv(fz)}
}
