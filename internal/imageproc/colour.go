package imageproc

import (
	"image"
	"image/color"
	"math"
	"sync"

	"uploader/internal/imageproc/internal/icc"
)

// colourSource is what a decoder found about an image's colour space: an
// embedded ICC profile (JPEG APP2, PNG iCCP, WebP ICCP, HEIF/AVIF colr
// prof), or the CICP code points of a HEIF/AVIF nclx box (or PNG cICP), or
// a PNG's gAMA/cHRM pair, or nothing. The zero value means "untagged",
// which DESIGN.md §8 takes as sRGB. When several are set, ICC wins, then
// CICP, then gAMA/cHRM.
type colourSource struct {
	// ICC is the whole embedded profile, segments already joined.
	ICC []byte
	// CICP is set for nclx (ITU-T H.273 code points); nil otherwise.
	CICP *cicp
	// Gamma is a PNG gAMA value (stored = linear^Gamma, 0.45455 for the
	// common 1/2.2); 0 when absent.
	Gamma float64
	// Chroma is a PNG cHRM chunk: red, green, blue and white as CIE xy.
	Chroma *[4][2]float64
}

// cicp holds the ITU-T H.273 code points of a HEIF/AVIF nclx box. Only
// Primaries and Transfer matter here: Matrix and FullRange say how to turn
// YCbCr into RGB, which the decoder has done before toSRGB sees pixels.
type cicp struct {
	Primaries, Transfer, Matrix uint16
	FullRange                   bool
}

// profile returns the transform src describes, or nil when it is sRGB or
// nothing this package can convert from. A profile that does not parse is
// ignored (nil, with the reason), as browsers and libvips ignore it.
func (src colourSource) profile() (*icc.Profile, error) {
	switch {
	case len(src.ICC) > 0:
		p, err := icc.Parse(src.ICC)
		if err != nil {
			return nil, err
		}
		if p.IsSRGB() {
			return nil, nil
		}
		return p, nil
	case src.CICP != nil:
		return src.CICP.profile(), nil
	case src.Gamma > 0 || src.Chroma != nil:
		prim := icc.SRGBPrimaries
		if src.Chroma != nil {
			prim = *src.Chroma
		}
		trc := icc.SRGBCurve
		if src.Gamma > 0 {
			trc = icc.Gamma(1 / src.Gamma)
		}
		p := icc.FromPrimaries(prim[0], prim[1], prim[2], prim[3], trc)
		if p.IsSRGB() {
			return nil, nil
		}
		return p, nil
	}
	return nil, nil
}

// profile maps H.273 colour primaries and transfer characteristics to a
// matrix/TRC transform. Unspecified (2) and unknown code points count as
// sRGB's, which is what an untagged image would get.
func (c *cicp) profile() *icc.Profile {
	prim := icc.SRGBPrimaries
	switch c.Primaries {
	case 9: // BT.2020, BT.2100
		prim = icc.Rec2020Primaries
	case 12: // SMPTE EG 432-1: Display P3
		prim = icc.P3D65Primaries
	}
	trc := icc.SRGBCurve
	switch c.Transfer {
	case 1, 6, 14, 15: // BT.709, BT.601, BT.2020 10- and 12-bit
		trc = icc.Rec709
	case 4: // BT.470 M
		trc = icc.Gamma(2.2)
	case 5: // BT.470 B/G
		trc = icc.Gamma(2.8)
	case 8:
		trc = icc.Linear
	case 16:
		trc = icc.PQ
	case 18:
		trc = icc.HLG
	}
	p := icc.FromPrimaries(prim[0], prim[1], prim[2], prim[3], trc)
	if p.IsSRGB() {
		return nil
	}
	return p
}

// toSRGB returns img converted to sRGB from the colour space src
// describes. Untagged and sRGB images come back unchanged, at no cost
// beyond parsing the profile.
//
// It is the single place colour conversion happens; decoders only report
// what they found. The conversion is done in linear light at float32
// precision from the source's own bit depth, and the result is 8-bit
// sRGB: an *image.Gray for gray sources, an *image.NRGBA otherwise (in
// place of the decoded pixels where the layout allows: NRGBA and CMYK).
// A profile whose colour space does not match the pixels (an RGB profile
// on a CMYK JPEG) is ignored, as Little CMS-based tools ignore it. A CMYK
// image without a profile is left to the naive conversion of image/color
// (R = 255·(1−C)(1−K)), which is what Chrome and Firefox show for such a
// file: without a profile nobody knows which press it was separated for.
func toSRGB(img image.Image, src colourSource) (image.Image, error) {
	p, err := src.profile()
	if err != nil || p == nil {
		return img, nil
	}
	switch m := img.(type) {
	case *image.CMYK:
		if p.Space != icc.CMYK {
			return img, nil
		}
		return cmykToSRGB(m, p), nil
	case *image.Gray, *image.Gray16:
		if p.Space == icc.CMYK {
			return img, nil
		}
		return grayToSRGB(img, p), nil
	case *image.Paletted:
		if p.Space == icc.CMYK {
			return img, nil
		}
		return palettedToSRGB(m, p), nil
	}
	switch p.Space {
	case icc.CMYK:
		return img, nil
	case icc.Gray:
		// A gray profile on colour pixels (a gray+alpha PNG decodes to
		// NRGBA): the curve applies to each channel alike.
		return rgbToSRGB(img, grayAsRGB(p)), nil
	}
	return rgbToSRGB(img, p), nil
}

// encodeLUT maps linear light, quantised to 16 bits, to 8-bit sRGB. At
// that resolution the error is under 0.06 of a code value even where the
// sRGB curve is steepest.
var encodeLUT = sync.OnceValue(func() *[65536]uint8 {
	var t [65536]uint8
	for i := range t {
		t[i] = uint8(math.Round(255 * icc.SRGBEncode(float64(i)/65535)))
	}
	return &t
})

func enc8(lut *[65536]uint8, v float32) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return lut[int(v*65535+0.5)]
}

// rgbTransform converts 3-channel device values to 8-bit sRGB. Matrix/TRC
// profiles go through per-channel linearisation tables and a 3×3 matrix;
// LUT-based ones through the profile's own evaluation.
type rgbTransform struct {
	p     *icc.Profile
	lin   [3][]float32 // indexed by the source code value
	m     [9]float32
	enc   *[65536]uint8
	max   float64 // largest source code value: 255 or 65535
	isLUT bool
	tab   *icc.Table // set by sampled
}

func newRGBTransform(p *icc.Profile, bits int) *rgbTransform {
	t := &rgbTransform{p: p, enc: encodeLUT(), max: float64(int(1)<<bits - 1), isLUT: !p.IsMatrix()}
	if t.isLUT {
		return t
	}
	for c := range 3 {
		curve := p.TRC[min(c, len(p.TRC)-1)]
		if c > 0 && sameCurve(curve, p.TRC[0]) {
			t.lin[c] = t.lin[0]
			continue
		}
		tab := make([]float32, int(t.max)+1)
		for i := range tab {
			tab[i] = float32(curve.Eval(float64(i) / t.max))
		}
		t.lin[c] = tab
	}
	for i := range 3 {
		for j := range 3 {
			t.m[3*i+j] = float32(p.ToSRGB[i][j])
		}
	}
	return t
}

// sameCurve reports whether two curves are the same, so the three
// channels of most profiles share one table.
func sameCurve(a, b icc.Curve) bool { return a.Equal(b) }

// sampled switches a LUT-based transform of 8-bit data to the profile
// sampled on a 33³ grid (Little CMS's choice for 3-channel 8-bit data)
// when the image is large enough to repay building it.
func (t *rgbTransform) sampled(pixels int) {
	const grid = 33
	if t.isLUT && pixels > 8*grid*grid*grid {
		t.tab = t.p.Sampled(grid)
	}
}

func (t *rgbTransform) apply(r, g, b int) (uint8, uint8, uint8) {
	if t.tab != nil {
		o := t.tab.Eval([]float64{float64(r) / t.max, float64(g) / t.max, float64(b) / t.max})
		return uint8(o[0]*255 + 0.5), uint8(o[1]*255 + 0.5), uint8(o[2]*255 + 0.5)
	}
	if t.isLUT {
		o := t.p.Eval([]float64{float64(r) / t.max, float64(g) / t.max, float64(b) / t.max})
		return enc8(t.enc, float32(o[0])), enc8(t.enc, float32(o[1])), enc8(t.enc, float32(o[2]))
	}
	lr, lg, lb := t.lin[0][r], t.lin[1][g], t.lin[2][b]
	m := &t.m
	return enc8(t.enc, m[0]*lr+m[1]*lg+m[2]*lb),
		enc8(t.enc, m[3]*lr+m[4]*lg+m[5]*lb),
		enc8(t.enc, m[6]*lr+m[7]*lg+m[8]*lb)
}

// rgbToSRGB converts an RGB image; 16-bit sources keep their precision
// until the 8-bit result.
func rgbToSRGB(img image.Image, p *icc.Profile) image.Image {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.NRGBA64:
		t := newRGBTransform(p, 16)
		dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		bands(b.Dy(), func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
				d := dst.Pix[y*dst.Stride:]
				for x := 0; x < b.Dx(); x++ {
					i := 8 * x
					d[4*x], d[4*x+1], d[4*x+2] = t.apply(int(s[i])<<8|int(s[i+1]), int(s[i+2])<<8|int(s[i+3]), int(s[i+4])<<8|int(s[i+5]))
					d[4*x+3] = s[i+6]
				}
			}
		})
		return dst
	case *image.RGBA64:
		t := newRGBTransform(p, 16)
		dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		bands(b.Dy(), func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
				d := dst.Pix[y*dst.Stride:]
				for x := 0; x < b.Dx(); x++ {
					i := 8 * x
					a := int(s[i+6])<<8 | int(s[i+7])
					if a == 0 {
						continue
					}
					r, g, bl := int(s[i])<<8|int(s[i+1]), int(s[i+2])<<8|int(s[i+3]), int(s[i+4])<<8|int(s[i+5])
					if a != 0xFFFF { // premultiplied
						r, g, bl = min(r*0xFFFF/a, 0xFFFF), min(g*0xFFFF/a, 0xFFFF), min(bl*0xFFFF/a, 0xFFFF)
					}
					d[4*x], d[4*x+1], d[4*x+2] = t.apply(r, g, bl)
					d[4*x+3] = uint8(a >> 8)
				}
			}
		})
		return dst
	}
	n, _ := toNRGBA(img)
	t := newRGBTransform(p, 8)
	t.sampled(n.Rect.Dx() * n.Rect.Dy())
	bands(n.Rect.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := n.Pix[y*n.Stride : y*n.Stride+4*n.Rect.Dx()]
			for i := 0; i < len(row); i += 4 {
				row[i], row[i+1], row[i+2] = t.apply(int(row[i]), int(row[i+1]), int(row[i+2]))
			}
		}
	})
	return n
}

// grayAsRGB turns a gray profile into one that applies its curve to each
// of three channels.
func grayAsRGB(p *icc.Profile) *icc.Profile {
	if p.IsMatrix() {
		return &icc.Profile{Space: icc.RGB, Version: p.Version, TRC: p.TRC, ToSRGB: icc.Identity}
	}
	curve := icc.Sample(func(x float64) float64 { return p.Eval([]float64{x})[1] }, 4096)
	return &icc.Profile{Space: icc.RGB, Version: p.Version, TRC: []icc.Curve{curve}, ToSRGB: icc.Identity}
}

// grayToSRGB converts a gray image through a table over its code values.
// Any profile maps a neutral to a neutral under relative colorimetry, so
// the green channel of the result stands for all three.
func grayToSRGB(img image.Image, p *icc.Profile) image.Image {
	gray := func(v float64) float32 {
		if p.Space == icc.Gray {
			return float32(p.Eval([]float64{v})[1])
		}
		return float32(p.Eval([]float64{v, v, v})[1])
	}
	lut := encodeLUT()
	switch m := img.(type) {
	case *image.Gray16:
		var tab [65536]uint8
		for i := range tab {
			tab[i] = enc8(lut, gray(float64(i)/65535))
		}
		b := m.Bounds()
		dst := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		bands(b.Dy(), func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
				d := dst.Pix[y*dst.Stride:]
				for x := 0; x < b.Dx(); x++ {
					d[x] = tab[int(s[2*x])<<8|int(s[2*x+1])]
				}
			}
		})
		return dst
	case *image.Gray:
		var tab [256]uint8
		for i := range tab {
			tab[i] = enc8(lut, gray(float64(i)/255))
		}
		b := m.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)]
			for i, v := range row {
				row[i] = tab[v]
			}
		}
		return m
	}
	return img
}

// palettedToSRGB converts the palette, which is all a paletted image's
// colour is.
func palettedToSRGB(m *image.Paletted, p *icc.Profile) image.Image {
	if p.Space == icc.Gray {
		p = grayAsRGB(p)
	}
	t := newRGBTransform(p, 8)
	pal := make(color.Palette, len(m.Palette))
	for i, c := range m.Palette {
		n := color.NRGBAModel.Convert(c).(color.NRGBA)
		n.R, n.G, n.B = t.apply(int(n.R), int(n.G), int(n.B))
		pal[i] = n
	}
	return &image.Paletted{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect, Palette: pal}
}

// cmykToSRGB converts a CMYK image in place (both layouts are 4 bytes a
// pixel) and relabels it NRGBA. image/jpeg has already undone Adobe's
// inversion, so the bytes are ink amounts, 255 for full ink, which is
// what a CMYK profile's A2B table takes. Large images go through the
// transform sampled on a 17⁴ grid (Little CMS's own choice for 4-channel
// 8-bit data): evaluating the profile itself costs about 130 ns a pixel,
// the grid a fifth of that. Neighbouring pixels are often equal, so the
// last conversion is remembered.
func cmykToSRGB(m *image.CMYK, p *icc.Profile) image.Image {
	const grid = 17
	b := m.Bounds()
	lut := encodeLUT()
	eval := func(px [4]uint8) [3]uint8 {
		in := []float64{float64(px[0]) / 255, float64(px[1]) / 255, float64(px[2]) / 255, float64(px[3]) / 255}
		o := p.Eval(in)
		return [3]uint8{enc8(lut, float32(o[0])), enc8(lut, float32(o[1])), enc8(lut, float32(o[2]))}
	}
	if b.Dx()*b.Dy() > 8*grid*grid*grid*grid {
		t := p.Sampled(grid)
		eval = func(px [4]uint8) [3]uint8 {
			o := t.Eval4x8(px)
			return [3]uint8{uint8(o[0]*255 + 0.5), uint8(o[1]*255 + 0.5), uint8(o[2]*255 + 0.5)}
		}
	}
	bands(b.Dy(), func(y0, y1 int) {
		var last [4]uint8
		var out [3]uint8
		have := false
		for y := b.Min.Y + y0; y < b.Min.Y+y1; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):m.PixOffset(b.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				px := [4]uint8{row[i], row[i+1], row[i+2], row[i+3]}
				if !have || px != last {
					out = eval(px)
					last, have = px, true
				}
				row[i], row[i+1], row[i+2], row[i+3] = out[0], out[1], out[2], 0xFF
			}
		}
	})
	return &image.NRGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
}

// convertsColour reports whether decoding data will convert its colour,
// for estimating a job's memory from its header: a converted JPEG or
// lossy WebP is turned into a full-size NRGBA (4 bytes a pixel at the
// decoded size) instead of being resized straight from its YCbCr planes,
// and a 16-bit PNG gets an 8-bit NRGBA copy next to its 8 bytes a pixel.
// It parses the profile, which costs microseconds.
func convertsColour(ct string, data []byte) bool {
	p, err := colourOf(ct, data).profile()
	return err == nil && p != nil
}
