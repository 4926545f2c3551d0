package imageproc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/gen2brain/webp"

	"uploader/internal/upload"
)

// TestOrientation stores an upright image the way a camera held at each
// EXIF orientation would, and checks every output comes back upright.
func TestOrientation(t *testing.T) {
	upright := quadrants(64, 48)
	// inverse[o] turns the upright image into the pixels a camera stores
	// with orientation o; orient(stored, o) must undo it.
	inverse := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone, 2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV,
		5: imaging.Transpose, 6: imaging.Rotate90, 7: imaging.Transverse, 8: imaging.Rotate270,
	}
	p := testProfile(upload.VariantSpec{Name: "full", Width: 1000, Height: 1000, Fit: upload.FitInside, Formats: []string{"jpeg", "png", "webp"}, Quality: 95})
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			t.Run(fmt.Sprintf("%d/%v", o, bo), func(t *testing.T) {
				stored := inverse[o](upright)
				data := withEXIF(encodeJPEG(t, stored, 95), exifTIFF(bo, o, ""))
				res, err := Process(context.Background(), data, p, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if res.Width != 64 || res.Height != 48 {
					t.Fatalf("source is %dx%d after orientation, want 64x48", res.Width, res.Height)
				}
				for _, out := range res.Outputs {
					m := decodeOutput(t, out)
					corners := map[[2]bool]image.Point{
						{true, true}: {4, 4}, {false, true}: {59, 4},
						{true, false}: {4, 43}, {false, false}: {59, 43},
					}
					for side, pt := range corners {
						if want := quadrantColor(side[0], side[1]); !near(m.At(pt.X, pt.Y), want, 40) {
							t.Errorf("%s at %v = %v, want %v", out.File, pt, m.At(pt.X, pt.Y), want)
						}
					}
				}
			})
		}
	}
	t.Run("webp exif chunk", func(t *testing.T) {
		stored := inverse[6](upright)
		var b bytes.Buffer
		if err := webp.Encode(&b, stored, webp.Options{Lossless: true}); err != nil {
			t.Fatal(err)
		}
		data := withWebPChunk(b.Bytes(), "EXIF", exifTIFF(binary.LittleEndian, 6, ""))
		res, err := Process(context.Background(), data, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != 64 || res.Height != 48 {
			t.Fatalf("source is %dx%d after orientation, want 64x48", res.Width, res.Height)
		}
		m := decodeOutput(t, res.Outputs[1])
		if !near(m.At(4, 4), quadrantColor(true, true), 0) || !near(m.At(59, 43), quadrantColor(false, false), 0) {
			t.Errorf("corners %v %v, want red and white", m.At(4, 4), m.At(59, 43))
		}
	})
}

// withWebPChunk appends a chunk to a RIFF WebP and fixes the RIFF size. A
// strict reader would want a VP8X header with the EXIF flag; orientation is
// read regardless, as browsers do.
func withWebPChunk(w []byte, id string, payload []byte) []byte {
	out := bytes.Clone(w)
	out = append(out, id...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(payload)))
	out = append(out, payload...)
	if len(payload)%2 == 1 {
		out = append(out, 0)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func TestTIFFOrientation(t *testing.T) {
	le := exifTIFF(binary.LittleEndian, 6, "")
	long := bytes.Clone(le)
	binary.LittleEndian.PutUint16(long[12:], 4) // type LONG
	binary.LittleEndian.PutUint32(long[18:], 8)
	tests := []struct {
		name string
		tiff []byte
		want int
	}{
		{"little-endian", le, 6},
		{"big-endian", exifTIFF(binary.BigEndian, 3, ""), 3},
		{"with gps and description", exifTIFF(binary.BigEndian, 8, "GPS"), 8},
		{"long type", long, 8},
		{"empty", nil, 0},
		{"bad byte order", []byte("XX\x00*\x00\x00\x00\x08"), 0},
		{"bad magic", []byte("MM\x00+\x00\x00\x00\x08"), 0},
		{"ifd offset past end", []byte("MM\x00*\xff\xff\xff\xf0"), 0},
		{"ifd offset at end", []byte("MM\x00*\x00\x00\x00\x08"), 0},
		{"entry count past end", []byte("MM\x00*\x00\x00\x00\x08\xff\xff\x01\x12"), 0},
		{"zero count", append([]byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x00\x00\x06\x00\x00"), 0, 0, 0, 0), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tiffOrientation(tc.tiff); got != tc.want {
				t.Errorf("tiffOrientation = %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("out of range value means upright", func(t *testing.T) {
		data := withEXIF(readTestdata(t, "small.jpg"), exifTIFF(binary.BigEndian, 9, ""))
		if o := orientation(TypeJPEG, data); o != 1 {
			t.Errorf("orientation = %d, want 1", o)
		}
	})
	t.Run("hostile segment lengths", func(t *testing.T) {
		jpg := readTestdata(t, "small.jpg")
		for _, seg := range [][]byte{{0xFF, 0xE1, 0xFF, 0xFF, 'E'}, {0xFF, 0xE1, 0x00, 0x01}, {0xFF, 0xE1}} {
			if o := orientation(TypeJPEG, append(jpg[:2:2], seg...)); o != 1 {
				t.Errorf("orientation = %d, want 1", o)
			}
		}
	})
}

// TestNoMetadata sends a JPEG carrying EXIF with GPS, XMP and an ICC
// profile, and checks no output carries any of it.
func TestNoMetadata(t *testing.T) {
	const secret = "GPSSECRET-51.5N"
	data := withJPEGSegments(encodeJPEG(t, photo(300, 200, 4), 90),
		jpegSegment(0xE1, append([]byte("Exif\x00\x00"), exifTIFF(binary.BigEndian, 1, secret)...)),
		jpegSegment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>XMPSECRET</x:xmpmeta>")),
		jpegSegment(0xE2, []byte("ICC_PROFILE\x00\x01\x01ICCSECRET")),
		jpegSegment(0xFE, []byte("COMSECRET")),
	)
	p := testProfile(
		upload.VariantSpec{Name: "big", Width: 1000, Height: 1000, Fit: upload.FitInside, Formats: []string{"auto", "png", "webp"}, Quality: 80},
		upload.VariantSpec{Name: "small", Width: 50, Height: 50, Fit: upload.FitCover, Formats: []string{"jpeg", "webp"}, Quality: 80},
	)
	opts := map[string]Options{"pure Go": {}, "optimized": {Optimizer: NewOptimizer(0)}}
	for name, opt := range opts {
		t.Run(name, func(t *testing.T) {
			res, err := Process(context.Background(), data, p, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range res.Outputs {
				for _, marker := range []string{"Exif", secret, "GPS", "XMPSECRET", "xmpmeta", "ICC_PROFILE", "ICCSECRET", "COMSECRET"} {
					if bytes.Contains(out.Data, []byte(marker)) {
						t.Errorf("%s contains %q", out.File, marker)
					}
				}
				if bad := metadataBlocks(out); len(bad) > 0 {
					t.Errorf("%s has metadata blocks %v", out.File, bad)
				}
			}
		})
	}
}

// metadataBlocks lists the blocks of an output that are not pixel data:
// APPn/COM segments in JPEG, ancillary text/colour chunks in PNG, and
// EXIF/XMP/ICC chunks in WebP.
func metadataBlocks(o Output) []string {
	var bad []string
	d := o.Data
	switch o.ContentType {
	case TypeJPEG:
		for p := 2; p+4 <= len(d) && d[p] == 0xFF; {
			m := d[p+1]
			if m == 0xDA {
				break
			}
			if (m >= 0xE0 && m <= 0xEF && m != 0xE0) || m == 0xFE { // JFIF APP0 carries no metadata
				bad = append(bad, fmt.Sprintf("marker %X", m))
			}
			p += 2 + int(binary.BigEndian.Uint16(d[p+2:]))
		}
	case TypePNG:
		for p := 8; p+8 <= len(d); {
			n := int(binary.BigEndian.Uint32(d[p:]))
			typ := string(d[p+4 : p+8])
			if !slices.Contains([]string{"IHDR", "PLTE", "tRNS", "IDAT", "IEND"}, typ) {
				bad = append(bad, typ)
			}
			p += 12 + n
		}
	case TypeWebP:
		for p := 12; p+8 <= len(d); {
			n := int(binary.LittleEndian.Uint32(d[p+4:]))
			typ := string(d[p : p+4])
			if !slices.Contains([]string{"VP8 ", "VP8L", "VP8X", "ALPH"}, typ) {
				bad = append(bad, typ)
			}
			p += 8 + n + n&1
		}
	}
	return bad
}

func TestAutoFormat(t *testing.T) {
	opaque := photo(80, 60, 5) // NRGBA model, every pixel opaque
	holed := photo(80, 60, 5)
	holed.SetNRGBA(40, 30, color.NRGBA{10, 20, 30, 0})
	translucent := photo(80, 60, 5)
	for i := 3; i < len(translucent.Pix); i += 4 {
		translucent.Pix[i] = 128
	}
	tests := []struct {
		name      string
		data      []byte
		alpha     bool
		auto      string
		webpAlpha bool
	}{
		{"opaque jpeg", encodeJPEG(t, opaque, 90), false, TypeJPEG, false},
		{"opaque png with alpha channel", encodePNG(t, opaque), false, TypeJPEG, false},
		{"png with one transparent pixel", encodePNG(t, holed), true, TypePNG, true},
		{"translucent png", encodePNG(t, translucent), true, TypePNG, true},
	}
	p := testProfile(upload.VariantSpec{Name: "v", Width: 80, Height: 80, Fit: upload.FitInside, Formats: []string{"auto", "webp", "jpeg"}, Quality: 90})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Process(context.Background(), tc.data, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.HasAlpha != tc.alpha {
				t.Errorf("HasAlpha = %v, want %v", res.HasAlpha, tc.alpha)
			}
			var files []string
			for _, o := range res.Outputs {
				files = append(files, o.File)
			}
			want := []string{"v.png", "v.webp", "v.jpg"}
			if tc.auto == TypeJPEG {
				want = []string{"v.jpg", "v.webp"} // auto and jpeg are the same file
			}
			if !slices.Equal(files, want) {
				t.Fatalf("outputs %v, want %v", files, want)
			}
			if res.Outputs[0].ContentType != tc.auto {
				t.Errorf("auto chose %s, want %s", res.Outputs[0].ContentType, tc.auto)
			}
			if tc.alpha {
				m := decodeOutput(t, res.Outputs[0])
				if _, _, _, a := m.At(40, 30).RGBA(); a == 0xFFFF {
					t.Error("PNG lost the transparency")
				}
			}
			w := decodeOutput(t, res.Outputs[1])
			_, _, _, a := w.At(40, 30).RGBA()
			if got := a != 0xFFFF; got != tc.webpAlpha {
				t.Errorf("WebP transparent at the hole = %v, want %v", got, tc.webpAlpha)
			}
			if tc.alpha {
				// JPEG cannot hold alpha: the pixels are seen over white.
				j := decodeOutput(t, res.Outputs[2])
				if tc.name == "png with one transparent pixel" && !near(j.At(40, 30), color.NRGBA{255, 255, 255, 255}, 12) {
					t.Errorf("JPEG at the hole = %v, want white", j.At(40, 30))
				}
			}
		})
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		name         string
		srcW, srcH   int
		fit          upload.Fit
		boxW, boxH   int
		wantW, wantH int
	}{
		{"inside landscape", 4000, 3000, upload.FitInside, 1024, 1024, 1024, 768},
		{"inside portrait", 3000, 4000, upload.FitInside, 1024, 1024, 768, 1024},
		{"inside wide box", 1000, 1000, upload.FitInside, 400, 200, 200, 200},
		{"inside never upscales", 300, 200, upload.FitInside, 1024, 1024, 300, 200},
		{"inside exact", 1024, 512, upload.FitInside, 1024, 1024, 1024, 512},
		{"inside extreme strip", 5000, 2, upload.FitInside, 100, 100, 100, 1},
		{"cover landscape", 4000, 3000, upload.FitCover, 150, 150, 150, 150},
		{"cover portrait", 300, 1200, upload.FitCover, 100, 100, 100, 100},
		{"cover wide box", 1000, 1000, upload.FitCover, 300, 100, 300, 100},
		{"cover small source", 100, 80, upload.FitCover, 150, 150, 80, 80},
		{"cover one side short", 400, 100, upload.FitCover, 150, 150, 100, 100},
		{"cover small source wide box", 100, 100, upload.FitCover, 300, 100, 100, 33},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := upload.VariantSpec{Name: "v", Width: tc.boxW, Height: tc.boxH, Fit: tc.fit, Formats: []string{"png"}, Quality: 80}
			g := planGeometry(spec, tc.srcW, tc.srcH)
			if g.outW != tc.wantW || g.outH != tc.wantH {
				t.Fatalf("planned %dx%d, want %dx%d", g.outW, g.outH, tc.wantW, tc.wantH)
			}
			if tc.srcW*tc.srcH > 2_000_000 {
				return // the plan is what matters; Process at this size is the benchmark's job
			}
			res, err := Process(context.Background(), encodePNG(t, photo(tc.srcW, tc.srcH, 6)), testProfile(spec), Options{})
			if err != nil {
				t.Fatal(err)
			}
			decodeOutput(t, res.Outputs[0]) // checks the real size matches
		})
	}
	t.Run("cover crops the centre", func(t *testing.T) {
		// A wide image: red left third, blue middle, green right third. A
		// square cover keeps the middle: blue edge to edge.
		m := image.NewNRGBA(image.Rect(0, 0, 900, 300))
		for y := 0; y < 300; y++ {
			for x := 0; x < 900; x++ {
				c := color.NRGBA{0, 0, 255, 255}
				if x < 300 {
					c = color.NRGBA{255, 0, 0, 255}
				} else if x >= 600 {
					c = color.NRGBA{0, 255, 0, 255}
				}
				m.SetNRGBA(x, y, c)
			}
		}
		spec := upload.VariantSpec{Name: "sq", Width: 100, Height: 100, Fit: upload.FitCover, Formats: []string{"png"}, Quality: 80}
		res, err := Process(context.Background(), encodePNG(t, m), testProfile(spec), Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := decodeOutput(t, res.Outputs[0])
		for _, x := range []int{1, 50, 98} {
			if !near(out.At(x, 50), color.NRGBA{0, 0, 255, 255}, 8) {
				t.Errorf("at x=%d: %v, want blue", x, out.At(x, 50))
			}
		}
	})
}

// TestCascadeMatchesDirect checks the cascade (box pre-shrink, each size
// from the previous one) looks like a single high-quality resize of the
// source, so the speed-up costs no visible quality.
func TestCascadeMatchesDirect(t *testing.T) {
	src := photo(2400, 1800, 7)
	p := testProfile(
		upload.VariantSpec{Name: "a", Width: 1200, Height: 1200, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 80},
		upload.VariantSpec{Name: "b", Width: 300, Height: 300, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 80},
		upload.VariantSpec{Name: "c", Width: 100, Height: 100, Fit: upload.FitCover, Formats: []string{"png"}, Quality: 80},
		upload.VariantSpec{Name: "d", Width: 64, Height: 64, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 80},
	)
	res, err := Process(context.Background(), encodePNG(t, src), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	closeToLanczos(t, src, res, "c")
}

func meanAbsDiff(a, b *image.NRGBA) float64 {
	if a.Rect.Size() != b.Rect.Size() {
		return math.Inf(1)
	}
	var sum int
	for i := range a.Pix {
		sum += abs(int(a.Pix[i]) - int(b.Pix[i]))
	}
	return float64(sum) / float64(len(a.Pix))
}

func TestHalve(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	m.SetNRGBA(0, 0, color.NRGBA{200, 0, 0, 255})
	m.SetNRGBA(1, 0, color.NRGBA{0, 0, 0, 0}) // transparent black must not darken
	m.SetNRGBA(0, 1, color.NRGBA{200, 0, 0, 255})
	m.SetNRGBA(1, 1, color.NRGBA{0, 0, 0, 0})
	m.SetNRGBA(2, 0, color.NRGBA{10, 20, 30, 255})
	m.SetNRGBA(2, 1, color.NRGBA{30, 40, 50, 255})
	h := halve(m)
	if h.Rect.Dx() != 2 || h.Rect.Dy() != 1 {
		t.Fatalf("size %v, want 2x1", h.Rect.Size())
	}
	if got := h.NRGBAAt(0, 0); got != (color.NRGBA{200, 0, 0, 128}) {
		t.Errorf("left = %v, want half-transparent pure red", got)
	}
	if got := h.NRGBAAt(1, 0); got != (color.NRGBA{20, 30, 40, 255}) {
		t.Errorf("odd edge = %v, want the average of the last column", got)
	}
}

func TestResultAndOutputs(t *testing.T) {
	data := encodeJPEG(t, photo(1600, 1200, 8), 85)
	res, err := Process(context.Background(), data, photoProfile, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ContentType != TypeJPEG || res.Width != 1600 || res.Height != 1200 || res.HasAlpha {
		t.Errorf("result = %s %dx%d alpha=%v", res.ContentType, res.Width, res.Height, res.HasAlpha)
	}
	want := []struct {
		file string
		w, h int
	}{
		{"w2048.jpg", 1600, 1200}, {"w2048.webp", 1600, 1200},
		{"w1024.jpg", 1024, 768}, {"w1024.webp", 1024, 768},
		{"w320.jpg", 320, 240}, {"w320.webp", 320, 240},
		{"thumb150.jpg", 150, 150}, {"thumb150.webp", 150, 150},
	}
	if len(res.Outputs) != len(want) {
		t.Fatalf("%d outputs, want %d", len(res.Outputs), len(want))
	}
	for i, w := range want {
		o := res.Outputs[i]
		if o.File != w.file || o.Width != w.w || o.Height != w.h || !strings.HasPrefix(o.File, o.Spec+".") {
			t.Errorf("output %d = %s %s %dx%d, want %s %dx%d", i, o.File, o.Spec, o.Width, o.Height, w.file, w.w, w.h)
		}
		if o.OriginalBytes != int64(len(o.Data)) {
			t.Errorf("%s: OriginalBytes %d without an optimizer, len %d", o.File, o.OriginalBytes, len(o.Data))
		}
		decodeOutput(t, o)
	}
	if len(res.Blurhash) != 28 {
		t.Errorf("blurhash %q", res.Blurhash)
	}
}

func TestContextCancelled(t *testing.T) {
	data := encodeJPEG(t, photo(800, 600, 9), 85)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Process(ctx, data, photoProfile, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
