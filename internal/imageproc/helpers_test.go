package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"

	"uploader/internal/upload"
)

// photo makes a w×h image that compresses like a photograph: smooth
// gradients plus noise, so JPEG sizes and encoder timings are realistic.
func photo(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := int(r.IntN(24)) - 12
			i := m.PixOffset(x, y)
			m.Pix[i] = clamp8(x*255/max(1, w-1) + n)
			m.Pix[i+1] = clamp8(y*255/max(1, h-1) + n)
			m.Pix[i+2] = clamp8((x+y)*255/max(1, w+h-2) + n)
			m.Pix[i+3] = 0xFF
		}
	}
	return m
}

func clamp8(v int) uint8 { return uint8(max(0, min(255, v))) }

// quadrants makes an asymmetric image: red, green, blue and white quarters
// (top-left, top-right, bottom-left, bottom-right), so every flip and
// rotation is visible in the corner colours.
func quadrants(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := quadrantColor(x < w/2, y < h/2)
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func quadrantColor(left, top bool) color.NRGBA {
	switch {
	case left && top:
		return color.NRGBA{255, 0, 0, 255}
	case !left && top:
		return color.NRGBA{0, 255, 0, 255}
	case left && !top:
		return color.NRGBA{0, 0, 255, 255}
	}
	return color.NRGBA{255, 255, 255, 255}
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// exifTIFF builds a TIFF structure with IFD0 holding orientation and, when
// gps is set, a GPS IFD and an ASCII description carrying secret, so a test
// can look for leaked metadata.
func exifTIFF(bo binary.ByteOrder, orientation int, secret string) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	u16 := func(v uint16) { _ = binary.Write(&b, bo, v) }
	u32 := func(v uint32) { _ = binary.Write(&b, bo, v) }
	u16(42)
	u32(8)
	n := uint16(1)
	if secret != "" {
		n = 3
	}
	// IFD0 at 8: n entries, then next-IFD offset.
	ifd0End := 8 + 2 + 12*uint32(n) + 4
	gpsAt := ifd0End
	gpsEnd := gpsAt + 2 + 12 + 4
	descAt := gpsEnd
	u16(n)
	u16(0x0112)
	u16(3)
	u32(1)
	u16(uint16(orientation))
	u16(0)
	if secret != "" {
		u16(0x010E) // ImageDescription
		u16(2)
		u32(uint32(len(secret) + 1))
		u32(descAt)
		u16(0x8825) // GPS IFD pointer
		u16(4)
		u32(1)
		u32(gpsAt)
	}
	u32(0)
	if secret != "" {
		u16(1)
		u16(0x0001) // GPSLatitudeRef "N"
		u16(2)
		u32(2)
		b.WriteString("N\x00\x00\x00")
		u32(0)
		b.WriteString(secret + "\x00")
	}
	return b.Bytes()
}

// withJPEGSegments inserts marker segments right after SOI.
func withJPEGSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

func jpegSegment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

func withEXIF(jpg, tiff []byte) []byte {
	return withJPEGSegments(jpg, jpegSegment(0xE1, append([]byte("Exif\x00\x00"), tiff...)))
}

func errCode(err error) string { return upload.ErrorCode(err) }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ue *upload.Error
	if !errors.As(err, &ue) || ue.Code != code {
		t.Fatalf("error = %v, want code %q", err, code)
	}
}

// testProfile is a small profile with one variant per fit, in all formats.
func testProfile(specs ...upload.VariantSpec) upload.Profile {
	return upload.Profile{
		Name:         "test",
		AllowedTypes: upload.ImageTypes,
		MaxBytes:     20 << 20,
		MaxPixels:    50_000_000,
		Variants:     specs,
	}
}

func decodeOutput(t *testing.T, o Output) image.Image {
	t.Helper()
	m, err := decodeAny(o.ContentType, o.Data)
	if err != nil {
		t.Fatalf("%s: decode: %v", o.File, err)
	}
	if b := m.Bounds(); b.Dx() != o.Width || b.Dy() != o.Height {
		t.Fatalf("%s: decoded %dx%d, Output says %dx%d", o.File, b.Dx(), b.Dy(), o.Width, o.Height)
	}
	return m
}

// near reports whether two colours are within tol on every channel, which
// absorbs JPEG and WebP rounding.
func near(c color.Color, want color.NRGBA, tol int) bool {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	d := func(a, b uint8) bool { return abs(int(a)-int(b)) <= tol }
	return d(n.R, want.R) && d(n.G, want.G) && d(n.B, want.B) && d(n.A, want.A)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// closeToLanczos checks each output against a direct Lanczos resize of src
// (a centre crop for the spec named crop): at most 3 levels a channel apart
// on average.
func closeToLanczos(t *testing.T, src image.Image, res *Result, crop string) {
	t.Helper()
	for _, out := range res.Outputs {
		got := imaging.Clone(decodeOutput(t, out))
		var want *image.NRGBA
		if out.Spec == crop {
			want = imaging.Fill(src, out.Width, out.Height, imaging.Center, imaging.Lanczos)
		} else {
			want = imaging.Resize(src, out.Width, out.Height, imaging.Lanczos)
		}
		if d := meanAbsDiff(got, want); d > 3 {
			t.Errorf("%s differs from a direct Lanczos resize by %.2f per channel on average", out.File, d)
		}
	}
}
