package icc

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func s15(v float64) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(int32(math.Round(v*65536))))
}

func para(kind uint16, v ...float64) []byte {
	b := []byte("para\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint16(b, kind)
	b = append(b, 0, 0)
	for _, x := range v {
		b = append(b, s15(x)...)
	}
	return b
}

func curv(v ...uint16) []byte {
	b := []byte("curv\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, x)
	}
	return b
}

func xyzTag(x, y, z float64) []byte {
	b := []byte("XYZ \x00\x00\x00\x00")
	return append(append(append(b, s15(x)...), s15(y)...), s15(z)...)
}

// build assembles a profile from tags, the way a profile writer lays it out.
func build(space, pcs string, tags map[string][]byte) []byte {
	n := len(tags)
	head := make([]byte, 132+12*n)
	copy(head[12:], "mntr")
	copy(head[16:], space)
	copy(head[20:], pcs)
	copy(head[36:], "acsp")
	head[8] = 4
	binary.BigEndian.PutUint32(head[128:], uint32(n))
	body := []byte{}
	i := 0
	for _, sig := range []string{"rXYZ", "gXYZ", "bXYZ", "rTRC", "gTRC", "bTRC", "kTRC", "A2B0"} {
		t, ok := tags[sig]
		if !ok {
			continue
		}
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		e := head[132+12*i:]
		copy(e, sig)
		binary.BigEndian.PutUint32(e[4:], uint32(len(head)+len(body)))
		binary.BigEndian.PutUint32(e[8:], uint32(len(t)))
		body = append(body, t...)
		i++
	}
	out := append(head, body...)
	binary.BigEndian.PutUint32(out, uint32(len(out)))
	return out
}

// srgbD50 is the colorant matrix of the ICC's own sRGB profiles.
var srgbD50 = [3][3]float64{{0.4360747, 0.3850649, 0.1430804}, {0.2225045, 0.7168786, 0.0606169}, {0.0139322, 0.0971045, 0.7141733}}

func rgbProfile(trc []byte, m [3][3]float64) []byte {
	return build("RGB ", "XYZ ", map[string][]byte{
		"rXYZ": xyzTag(m[0][0], m[1][0], m[2][0]), "gXYZ": xyzTag(m[0][1], m[1][1], m[2][1]), "bXYZ": xyzTag(m[0][2], m[1][2], m[2][2]),
		"rTRC": trc, "gTRC": trc, "bTRC": trc,
	})
}

func TestCurves(t *testing.T) {
	g, a, b, c, d, e, f := 2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045, 0.01, 0.02
	cases := []struct {
		name string
		tag  []byte
		want func(x float64) float64
	}{
		{"curv identity", curv(), func(x float64) float64 { return x }},
		{"curv gamma 2.2 (u8Fixed8 563/256)", curv(563), func(x float64) float64 { return math.Pow(x, 563.0/256) }},
		{"curv table", curv(0, 16384, 65535), func(x float64) float64 {
			if x < 0.5 {
				return x * 2 * 16384 / 65535
			}
			return (16384 + (x-0.5)*2*(65535-16384)) / 65535
		}},
		{"para 0", para(0, 1.8), func(x float64) float64 { return math.Pow(x, 1.8) }},
		{"para 1", para(1, g, a, b), func(x float64) float64 {
			if x >= -b/a {
				return math.Pow(a*x+b, g)
			}
			return 0
		}},
		{"para 2", para(2, g, a, -0.1, c), func(x float64) float64 {
			if x >= 0.1/a {
				return math.Pow(a*x-0.1, g) + c
			}
			return c
		}},
		{"para 3 (sRGB)", para(3, g, a, b, c, d), SRGBDecode},
		{"para 4", para(4, g, a, b, c, d, e, f), func(x float64) float64 {
			if x >= d {
				return math.Pow(a*x+b, g) + e
			}
			return c*x + f
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cv, _, err := parseCurve(tc.tag)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i <= 100; i++ {
				x := float64(i) / 100
				// s15Fixed16 parameters carry 1/65536 of rounding.
				if got, want := cv.Eval(x), tc.want(x); math.Abs(got-want) > 2e-4 {
					t.Fatalf("at %.2f: %.6f, want %.6f", x, got, want)
				}
			}
		})
	}
}

// TestPublishedMatrices compares the linear conversions built from
// primaries with the ones the standards publish.
func TestPublishedMatrices(t *testing.T) {
	cases := []struct {
		name string
		prim [4][2]float64
		want Mat3
		tol  float64
	}{
		// ITU-R BT.2087-0, BT.2020 to BT.709 (both D65).
		{"Rec. 2020", Rec2020Primaries, Mat3{{1.6605, -0.5876, -0.0728}, {-0.1246, 1.1329, -0.0083}, {-0.0182, -0.1006, 1.1187}}, 2e-4},
		// Display P3 to sRGB as commonly published, to 4 decimals (their rows
		// do not quite sum to 1, hence the looser tolerance).
		{"Display P3", P3D65Primaries, Mat3{{1.2249, -0.2247, 0}, {-0.0420, 1.0419, 0}, {-0.0197, -0.0786, 1.0979}}, 5e-4},
	}
	for _, tc := range cases {
		p := FromPrimaries(tc.prim[0], tc.prim[1], tc.prim[2], tc.prim[3], SRGBCurve)
		for i := range 3 {
			for j := range 3 {
				if math.Abs(p.ToSRGB[i][j]-tc.want[i][j]) > tc.tol {
					t.Fatalf("%s: matrix %v, want %v", tc.name, p.ToSRGB, tc.want)
				}
			}
		}
	}
	// The D50 PCS side: the sRGB colorants an ICC profile states must map
	// to the identity.
	p, err := Parse(rgbProfile(para(3, 2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045), srgbD50))
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsSRGB() {
		t.Errorf("the ICC sRGB colorants give %v, not the identity", p.ToSRGB)
	}
	q, _ := Parse(rgbProfile(curv(563), srgbD50))
	if q.IsSRGB() {
		t.Error("a gamma 2.2 profile with sRGB colorants is taken for sRGB")
	}
}

func TestHDR(t *testing.T) {
	// PQ 0.5807 is 203 cd/m² (BT.2408 reference white); HLG 0.75 is the
	// same white on a 1000 cd/m² display.
	for name, c := range map[string]Curve{"PQ": PQ, "HLG": HLG} {
		x := map[string]float64{"PQ": 0.5807, "HLG": 0.75}[name]
		if w := c.Eval(x); math.Abs(w-0.908) > 0.01 {
			t.Errorf("%s reference white gives %.3f, want 0.908", name, w)
		}
		if v := c.Eval(1); v < 0.99 || v > 1 {
			t.Errorf("%s peak gives %.3f, want just under 1", name, v)
		}
		prev := -1.0
		for i := 0; i <= 1000; i++ {
			v := c.Eval(float64(i) / 1000)
			if v < prev {
				t.Fatalf("%s is not monotonic at %d", name, i)
			}
			prev = v
		}
	}
}

// TestHostileProfiles feeds every truncation and many corruptions of real
// profiles to Parse and Eval: errors are fine, panics are not.
func TestHostileProfiles(t *testing.T) {
	seeds := [][]byte{rgbProfile(para(3, 2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045), srgbD50)}
	for _, f := range []string{"/usr/share/color/icc/Gray-CIE_L.icc", "/usr/share/color/icc/compatibleWithAdobeRGB1998.icc", "/usr/share/color/icc/colord/ProPhotoRGB.icc"} {
		if b, err := os.ReadFile(f); err == nil {
			seeds = append(seeds, b)
		}
	}
	for _, seed := range seeds {
		for n := 0; n < len(seed); n += 1 + n/50 {
			try(seed[:n])
		}
		for i := 0; i < len(seed); i += 1 + i/100 {
			b := append([]byte(nil), seed...)
			b[i] ^= 0xFF
			try(b)
		}
	}
}

func try(b []byte) {
	p, err := Parse(b)
	if err != nil {
		return
	}
	in := make([]float64, p.Space.Channels())
	for i := range in {
		in[i] = 0.5
	}
	p.Eval(in)
	p.IsSRGB()
}

func FuzzParse(f *testing.F) {
	f.Add(rgbProfile(curv(563), srgbD50))
	matches, _ := filepath.Glob("/usr/share/color/icc/*.icc")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { try(b) })
}

// mAB builds a lutAToBType element from its parts (nil parts are absent).
func mAB(nIn int, b, matrix, m, clut, a []byte) []byte {
	head := []byte("mAB \x00\x00\x00\x00")
	head = append(head, byte(nIn), 3, 0, 0)
	parts := [][]byte{b, matrix, m, clut, a}
	body := []byte{}
	offs := make([]byte, 20)
	for i, p := range parts {
		if p == nil {
			continue
		}
		for (32+len(body))%4 != 0 {
			body = append(body, 0)
		}
		binary.BigEndian.PutUint32(offs[4*i:], uint32(32+len(body)))
		body = append(body, p...)
	}
	return append(append(head, offs...), body...)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// TestLUTForms encodes sRGB as each A2B0 form a profile writer may use and
// checks that each gives back the sRGB values it encodes: the A2B path is
// then only as inexact as its tables' precision.
func TestLUTForms(t *testing.T) {
	srgbPara := para(3, 2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045)
	ident := curv()
	three := func(c []byte) []byte { c = pad4(c); return append(append(append([]byte(nil), c...), c...), c...) }
	// PCS XYZ is encoded with 1.0 at 0x8000, so a matrix to it is scaled.
	const enc = 32768.0 / 65535
	var mtx []byte
	for i := range 3 {
		for j := range 3 {
			mtx = append(mtx, s15(srgbD50[i][j]*enc)...)
		}
	}
	mtx = append(mtx, make([]byte, 12)...) // no offsets
	// A 2×2×2 table of XYZ at the cube's corners: the colorant matrix is
	// linear, so interpolating it is exact.
	clutAt := func(prec int) []byte {
		var b []byte
		for r := range 2 {
			for g := range 2 {
				for bl := range 2 {
					for k := range 3 {
						v := (srgbD50[k][0]*float64(r) + srgbD50[k][1]*float64(g) + srgbD50[k][2]*float64(bl)) * enc
						if prec == 1 {
							b = append(b, byte(math.Round(v*255)))
						} else {
							b = binary.BigEndian.AppendUint16(b, uint16(math.Round(v*65535)))
						}
					}
				}
			}
		}
		return b
	}
	clutMAB := append(append([]byte{2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 2, 0, 0, 0), clutAt(2)...)
	// lut16Type: 3 in, 3 out, 2 grid points, identity matrix, then
	// 4096-entry sRGB input tables, the table, and identity output tables.
	mft2 := []byte("mft2\x00\x00\x00\x00")
	mft2 = append(mft2, 3, 3, 2, 0)
	for i := range 9 {
		mft2 = append(mft2, s15(map[bool]float64{true: 1}[i%4 == 0])...)
	}
	mft2 = binary.BigEndian.AppendUint16(mft2, 4096)
	mft2 = binary.BigEndian.AppendUint16(mft2, 2)
	for range 3 {
		for i := range 4096 {
			mft2 = binary.BigEndian.AppendUint16(mft2, uint16(math.Round(SRGBDecode(float64(i)/4095)*65535)))
		}
	}
	mft2 = append(mft2, clutAt(2)...)
	for range 3 {
		mft2 = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(mft2, 0), 65535)
	}
	// lut8Type with identity 8-bit input tables, so the device is linear
	// sRGB (8-bit tables cannot hold the sRGB curve's shadows).
	mft1 := []byte("mft1\x00\x00\x00\x00")
	mft1 = append(mft1, 3, 3, 2, 0)
	for i := range 9 {
		mft1 = append(mft1, s15(map[bool]float64{true: 1}[i%4 == 0])...)
	}
	for range 3 {
		for i := range 256 {
			mft1 = append(mft1, byte(i))
		}
	}
	mft1 = append(mft1, clutAt(1)...)
	for range 3 {
		for i := range 256 {
			mft1 = append(mft1, byte(i))
		}
	}
	cases := []struct {
		name string
		a2b  []byte
		tol  float64
	}{
		// 8-bit table entries hold XYZ to 1/128: a few thousandths.
		{"mft1 (8-bit tables, linear device)", mft1, 1e-2},
		// The published sRGB colorants and this package's Bradford-adapted
		// sRGB differ by up to 5e-4, a seventh of a code value.
		{"mAB: M curves, matrix, B curves", mAB(3, three(ident), mtx, three(srgbPara), nil, nil), 1e-3},
		{"mAB: A curves, 16-bit table, B curves", mAB(3, three(ident), nil, nil, clutMAB, three(srgbPara)), 1e-3},
		{"mft2", mft2, 2e-3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prof := build("RGB ", "XYZ ", map[string][]byte{"A2B0": tc.a2b})
			p, err := Parse(prof)
			if err != nil {
				t.Fatal(err)
			}
			if p.IsMatrix() {
				t.Fatal("A2B0 was not used")
			}
			for _, in := range [][]float64{{0, 0, 0}, {1, 1, 1}, {0.2, 0.5, 0.9}, {0.9, 0.1, 0.4}, {0.5, 0.5, 0.5}} {
				got := p.Eval(in)
				for k := range 3 {
					want := SRGBDecode(in[k])
					if strings.HasPrefix(tc.name, "mft1") {
						want = in[k]
					}
					if math.Abs(got[k]-want) > tc.tol {
						t.Fatalf("Eval(%v)[%d] = %v, want %v", in, k, got[k], want)
					}
				}
			}
		})
	}
}

// TestSampled checks the gridded transform against the profile it samples,
// on a nonlinear A2B0 (sRGB curves before a table), in encoded sRGB.
func TestSampled(t *testing.T) {
	srgbPara := pad4(para(3, 2.4, 1/1.055, 0.055/1.055, 1/12.92, 0.04045))
	three := append(append(append([]byte(nil), srgbPara...), srgbPara...), srgbPara...)
	ident := pad4(curv())
	var mtx []byte
	for i := range 3 {
		for j := range 3 {
			mtx = append(mtx, s15(srgbD50[i][j]*32768/65535)...)
		}
	}
	mtx = append(mtx, make([]byte, 12)...)
	p, err := Parse(build("RGB ", "XYZ ", map[string][]byte{"A2B0": mAB(3, append(append(append([]byte(nil), ident...), ident...), ident...), mtx, three, nil, nil)}))
	if err != nil {
		t.Fatal(err)
	}
	tab := p.Sampled(33)
	worst := 0.0
	for i := range 2000 {
		in := []float64{float64(i%13) / 12, float64(i*7%29) / 28, float64(i*11%37) / 36}
		o, got := p.Eval(in), tab.Eval(in)
		for k := range 3 {
			worst = max(worst, math.Abs(SRGBEncode(min(max(o[k], 0), 1))-got[k]))
		}
	}
	if worst > 1.0/255 {
		t.Errorf("sampled transform is up to %.4f from the profile, want under one code value", worst)
	}
}
