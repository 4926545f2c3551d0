// Package icc reads the ICC profiles embedded in images (ICC.1:2010, v2 and
// v4) and turns one into a transform from the profile's device values to
// linear sRGB, which is all the upload pipeline needs: every variant it
// publishes is sRGB.
//
// Two kinds of profile are understood, which between them cover what
// cameras, phones and image editors embed:
//   - matrix/TRC profiles (RGB: rXYZ/gXYZ/bXYZ colorants and rTRC/gTRC/bTRC
//     curves; gray: a kTRC curve), the form of sRGB, Display P3, Adobe RGB
//     (1998), ProPhoto and Rec. 2020 profiles;
//   - LUT-based profiles through their A2B0 tag (lut8Type "mft1",
//     lut16Type "mft2" or lutAToBType "mAB "), the form of every CMYK
//     press profile.
//
// The transform is relative colorimetric for matrix/TRC profiles (the only
// intent they have) and the profile's perceptual A2B0 table for LUT-based
// ones; the PCS is D50 and the profile's colorants are already adapted to
// it, so the step to sRGB is sRGB's own D50-adapted (Bradford) matrix, as
// Little CMS computes it. Nothing here allocates in proportion to an image.
//
// The package was written rather than imported. The one maintained pure-Go
// ICC implementation found, github.com/kovidgoyal/imaging/prism/meta/icc
// (v1.9.0, tested against Little CMS), evaluates every pixel through a
// chain of interface calls in float64: its ConvertToSRGB took 11.7 s for
// a 12 MP Display P3 image and 8.6 s for a 12 MP CMYK one on this
// service's 2-core worker, where the table-driven paths here take about
// 0.06 s and 0.45 s of CPU. Uploads are hostile input, so Parse checks
// every offset and size against the data and allocates only in proportion
// to the profile.
package icc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Space is a profile's data colour space, as the header names it.
type Space uint32

// The device spaces this package converts from.
const (
	RGB  Space = 'R'<<24 | 'G'<<16 | 'B'<<8 | ' '
	Gray Space = 'G'<<24 | 'R'<<16 | 'A'<<8 | 'Y'
	CMYK Space = 'C'<<24 | 'M'<<16 | 'Y'<<8 | 'K'
)

func (s Space) String() string {
	b := [4]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
	return string(b[:])
}

// Channels is the number of device components of the space.
func (s Space) Channels() int {
	switch s {
	case Gray:
		return 1
	case RGB:
		return 3
	case CMYK:
		return 4
	}
	return 0
}

const (
	pcsXYZ = 'X'<<24 | 'Y'<<16 | 'Z'<<8 | ' '
	pcsLab = 'L'<<24 | 'a'<<16 | 'b'<<8 | ' '
)

// MaxSize bounds the profiles Parse accepts. Real CMYK press profiles are
// under 4 MB; a JPEG cannot carry more than 255 APP2 segments (16 MB).
const MaxSize = 16 << 20

// ErrUnsupported is wrapped by Parse errors for profiles that are valid but
// of a kind this package does not convert (a Lab or n-colour device space,
// a named-colour profile, a device link).
var ErrUnsupported = errors.New("icc: unsupported profile")

// Profile is a parsed profile reduced to its device-to-sRGB transform.
type Profile struct {
	Space   Space
	Version uint8 // major version from the header: 2 or 4

	// Matrix/TRC form (lut == nil). TRC has one curve for gray, three for
	// RGB. ToSRGB maps linear device RGB to linear sRGB; for gray the
	// linear value is the same on all three sRGB channels.
	TRC    []Curve
	ToSRGB Mat3

	lut *lut
}

// Parse reads an ICC profile. It checks every offset against the data, so
// a hostile profile yields an error, never a panic or a large allocation.
func Parse(b []byte) (*Profile, error) {
	if len(b) < 132 {
		return nil, errors.New("icc: profile is shorter than its header")
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("icc: profile of %d bytes is larger than %d", len(b), MaxSize)
	}
	if string(b[36:40]) != "acsp" {
		return nil, errors.New("icc: no 'acsp' signature in the header")
	}
	if n := int(binary.BigEndian.Uint32(b)); n < len(b) && n >= 132 {
		b = b[:n] // trailing bytes (segment padding) are not part of it
	}
	p := &Profile{Space: Space(binary.BigEndian.Uint32(b[16:])), Version: b[8]}
	class := string(b[12:16])
	if class == "link" || class == "abst" || class == "nmcl" {
		return nil, fmt.Errorf("%w: device class %q", ErrUnsupported, class)
	}
	if p.Space.Channels() == 0 {
		return nil, fmt.Errorf("%w: colour space %q", ErrUnsupported, p.Space.String())
	}
	pcs := binary.BigEndian.Uint32(b[20:])
	if pcs != pcsXYZ && pcs != pcsLab {
		return nil, fmt.Errorf("icc: profile connection space %q is neither XYZ nor Lab", string(b[20:24]))
	}
	tags, err := readTags(b)
	if err != nil {
		return nil, err
	}
	if a2b, ok := tags["A2B0"]; ok {
		l, err := parseLUT(a2b, p.Space.Channels(), pcs == pcsLab)
		if err == nil {
			p.lut = l
			return p, nil
		}
		// A broken A2B0 next to valid matrix/TRC tags: use those, as
		// Little CMS does when the preferred tag cannot be read.
		if p.Space == CMYK {
			return nil, err
		}
	}
	switch p.Space {
	case Gray:
		c, err := tagCurve(tags, "kTRC")
		if err != nil {
			return nil, err
		}
		if pcs == pcsLab {
			// The curve gives L*/100 for a Lab connection space.
			l := c
			c = Sample(func(x float64) float64 { return labToXYZ(100*l.Eval(x), 0, 0)[1] }, 4096)
		}
		p.TRC = []Curve{c}
		p.ToSRGB = Identity
	case RGB:
		if pcs != pcsXYZ {
			return nil, errors.New("icc: matrix/TRC profile with a Lab connection space")
		}
		var m Mat3
		for i, sig := range [3]string{"rXYZ", "gXYZ", "bXYZ"} {
			x, err := tagXYZ(tags, sig)
			if err != nil {
				return nil, err
			}
			m[0][i], m[1][i], m[2][i] = x[0], x[1], x[2]
		}
		for _, sig := range [3]string{"rTRC", "gTRC", "bTRC"} {
			c, err := tagCurve(tags, sig)
			if err != nil {
				return nil, err
			}
			p.TRC = append(p.TRC, c)
		}
		p.ToSRGB = xyzD50ToSRGB.Mul(m)
	default:
		return nil, errors.New("icc: a CMYK profile without an A2B0 tag")
	}
	return p, nil
}

// IsMatrix reports whether the profile is of the matrix/TRC form, whose
// transform is p.TRC then p.ToSRGB.
func (p *Profile) IsMatrix() bool { return p.lut == nil }

// IsSRGB reports whether converting with p would change nothing that 8-bit
// output can show: an RGB matrix/TRC profile whose colorants are sRGB's
// (within s15Fixed16 rounding and the spread between published sRGB
// profiles) and whose curves stay within a quarter of a code value of the
// sRGB curve. The description string is not trusted.
func (p *Profile) IsSRGB() bool {
	if p.lut != nil || p.Space != RGB {
		return false
	}
	for i := range 3 {
		for j := range 3 {
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(p.ToSRGB[i][j]-want) > 0.002 {
				return false
			}
		}
	}
	for _, c := range p.TRC {
		for i := 0; i <= 64; i++ {
			x := float64(i) / 64
			if math.Abs(c.Eval(x)-SRGBDecode(x)) > 0.25/255 {
				return false
			}
		}
	}
	return true
}

// Eval converts one device colour (components in [0,1], len(in) equal to
// the space's channel count) to linear sRGB. The result is not clipped.
// It is the general path; callers convert 8-bit matrix/TRC images through
// TRC and ToSRGB with tables instead.
func (p *Profile) Eval(in []float64) [3]float64 {
	if p.lut != nil {
		return p.lut.eval(in)
	}
	if len(p.TRC) == 1 {
		v := p.TRC[0].Eval(in[0])
		return [3]float64{v, v, v}
	}
	return p.ToSRGB.Apply([3]float64{p.TRC[0].Eval(in[0]), p.TRC[1].Eval(in[1]), p.TRC[2].Eval(in[2])})
}

// FromPrimaries builds the matrix/TRC profile of an RGB space given by the
// CIE xy chromaticities of its primaries and white and one transfer curve
// for all channels: what a PNG cHRM/gAMA pair or HEIF/AVIF CICP code points
// describe. The white is adapted to sRGB's D65 with the Bradford transform.
func FromPrimaries(r, g, b, w [2]float64, trc Curve) *Profile {
	m := rgbToXYZ(r, g, b, w)
	m = bradford(xyToXYZ(w), d65).Mul(m)
	return &Profile{Space: RGB, Version: 4, TRC: []Curve{trc, trc, trc}, ToSRGB: xyzD65ToSRGB.Mul(m)}
}

// readTags returns the tag table as signature -> tag data. Tags that
// point outside the profile are an error.
func readTags(b []byte) (map[string][]byte, error) {
	n := int(binary.BigEndian.Uint32(b[128:]))
	if n > (len(b)-132)/12 {
		return nil, errors.New("icc: tag table runs past the end of the profile")
	}
	tags := make(map[string][]byte, n)
	for i := range n {
		e := b[132+12*i:]
		off, size := uint64(binary.BigEndian.Uint32(e[4:])), uint64(binary.BigEndian.Uint32(e[8:]))
		if off+size > uint64(len(b)) || size < 8 {
			return nil, fmt.Errorf("icc: tag %q points outside the profile", string(e[:4]))
		}
		tags[string(e[:4])] = b[off : off+size]
	}
	return tags, nil
}

func tagXYZ(tags map[string][]byte, sig string) ([3]float64, error) {
	t, ok := tags[sig]
	if !ok {
		return [3]float64{}, fmt.Errorf("icc: no %q tag", sig)
	}
	if len(t) < 20 || string(t[:4]) != "XYZ " {
		return [3]float64{}, fmt.Errorf("icc: tag %q is not an XYZ value", sig)
	}
	return [3]float64{s15f16(t[8:]), s15f16(t[12:]), s15f16(t[16:])}, nil
}

func tagCurve(tags map[string][]byte, sig string) (Curve, error) {
	t, ok := tags[sig]
	if !ok {
		return Curve{}, fmt.Errorf("icc: no %q tag", sig)
	}
	c, _, err := parseCurve(t)
	if err != nil {
		return Curve{}, fmt.Errorf("icc: tag %q: %w", sig, err)
	}
	return c, nil
}

func s15f16(b []byte) float64 { return float64(int32(binary.BigEndian.Uint32(b))) / 65536 }
