package imageproc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"uploader/internal/upload"
)

// publish runs data through Process as an upload would be, with one PNG
// variant as large as the image, and returns the published pixels.
func publish(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	_, cfg, err := Limits{}.Check(data)
	if err != nil {
		t.Fatal(err)
	}
	p := testProfile(upload.VariantSpec{Name: "full", Width: cfg.Width, Height: cfg.Height, Fit: upload.FitInside, Formats: []string{"png"}})
	res, err := Process(t.Context(), data, p, Options{})
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return imaging.Clone(decodeOutput(t, res.Outputs[0]))
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, body []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(body)))
	b.WriteString(typ)
	b.Write(body)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	return b.Bytes()
}

// replacePNGColour drops a PNG's colour chunks (iCCP, sRGB, gAMA, cHRM) and
// puts extra after IHDR.
func replacePNGColour(t *testing.T, data []byte, extra ...[]byte) []byte {
	t.Helper()
	out := append([]byte(nil), data[:8]...)
	for p := 8; p+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		chunk := data[p : p+12+n]
		p += 12 + n
		switch typ {
		case "iCCP", "sRGB", "gAMA", "cHRM":
			continue
		}
		out = append(out, chunk...)
		if typ == "IHDR" {
			for _, e := range extra {
				out = append(out, e...)
			}
		}
	}
	return out
}

func u32s(v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, uint32(x*100000+0.5))
	}
	return b
}

// TestOddFiles sends files that real tools make, and that people upload,
// through the whole pipeline. Each must end as correct sRGB pixels
// (compared with what libvips or ImageMagick make of the same file) or as
// a refusal a person can act on.
func TestOddFiles(t *testing.T) {
	requireTool(t, "vips")
	cases := []struct {
		name string
		// make writes in.* (and ref.png, the expected sRGB pixels) into dir.
		make func(t *testing.T, dir string) string
		max  float64 // mean ΔE76 of the published pixels against ref.png
	}{
		{
			name: "Display P3 JPEG, as phones make them",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.jpg[Q=92]", "p3")
				runTool(t, dir, "vips", "icc_transform", "in.jpg", "ref.png", "srgb")
				return "in.jpg"
			},
			max: 1.0,
		},
		{
			name: "CMYK JPEG without a profile (Adobe APP14, inverted)",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "cmyk.jpg[Q=95]", "cmyk")
				runTool(t, dir, "vips", "copy", "cmyk.jpg", "in.jpg[strip]")
				// ImageMagick converts untagged CMYK with the same naive
				// formula as browsers, the documented default.
				runTool(t, dir, "convert", "in.jpg", "-colorspace", "sRGB", "ref.png")
				return "in.jpg"
			},
			max: 1.0,
		},
		{
			name: "CMYK JPEG with its profile",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.jpg[Q=95]", "cmyk")
				runTool(t, dir, "vips", "icc_transform", "in.jpg", "ref.png", "srgb", "--intent", "perceptual")
				return "in.jpg"
			},
			max: 1.0,
		},
		{
			name: "16-bit PNG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "colourspace", "photo.jpg", "in.png", "rgb16")
				runTool(t, dir, "vips", "colourspace", "in.png", "ref.png", "srgb")
				return "in.png"
			},
			max: 0.2,
		},
		{
			name: "grayscale PNG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "colourspace", "photo.jpg", "in.png", "b-w")
				runTool(t, dir, "vips", "colourspace", "in.png", "ref.png", "srgb")
				return "in.png"
			},
			max: 0.2,
		},
		{
			name: "16-bit grayscale PNG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "colourspace", "photo.jpg", "in.png", "grey16")
				runTool(t, dir, "vips", "colourspace", "in.png", "ref.png", "srgb")
				return "in.png"
			},
			max: 0.2,
		},
		{
			name: "linear grayscale PNG with gAMA 1.0",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "convert", "photo.jpg", "-colorspace", "LinearGray", "in.png")
				runTool(t, dir, "convert", "photo.jpg", "-colorspace", "Gray", "ref.png")
				return "in.png"
			},
			max: 1.5,
		},
		{
			name: "linear RGB PNG with gAMA 1.0",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "convert", "photo.jpg", "-colorspace", "RGB", "in.png")
				runTool(t, dir, "vips", "copy", "photo.jpg", "ref.png")
				return "in.png"
			},
			max: 1.5,
		},
		{
			name: "Adobe RGB PNG described by cHRM and gAMA, no iCCP",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "argb.png", requireFile(t, "/usr/share/color/icc/compatibleWithAdobeRGB1998.icc", "icc-profiles-free"))
				runTool(t, dir, "vips", "icc_transform", "argb.png", "ref.png", "srgb")
				// The same pixels labelled the PNG 1.2 way: Adobe RGB's
				// published chromaticities and its 563/256 gamma.
				png := replacePNGColour(t, readFile(t, filepath.Join(dir, "argb.png")),
					pngChunk("cHRM", u32s(0.3127, 0.3290, 0.64, 0.33, 0.21, 0.71, 0.15, 0.06)),
					pngChunk("gAMA", u32s(256.0/563)))
				if err := os.WriteFile(filepath.Join(dir, "in.png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
				return "in.png"
			},
			max: 1.0,
		},
		{
			name: "palette PNG with tRNS",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "convert", "photo.jpg", "(", "+clone", "-fx", "i/w", ")", "-alpha", "off", "-compose", "CopyOpacity", "-composite", "rgba.png")
				runTool(t, dir, "pngquant", "--force", "--output", "in.png", "64", "rgba.png")
				runTool(t, dir, "vips", "copy", "in.png", "ref.png")
				return "in.png"
			},
			max: 0.2,
		},
		{
			name: "interlaced PNG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "convert", "photo.jpg", "-interlace", "PNG", "in.png")
				runTool(t, dir, "vips", "copy", "in.png", "ref.png")
				return "in.png"
			},
			max: 0.2,
		},
		{
			name: "progressive JPEG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "djpeg", "-outfile", "photo.ppm", "photo.jpg")
				runTool(t, dir, "cjpeg", "-progressive", "-quality", "95", "-outfile", "in.jpg", "photo.ppm")
				runTool(t, dir, "vips", "copy", "in.jpg", "ref.png")
				return "in.jpg"
			},
			// cjpeg subsamples chroma 2×2, and Go's decoder upsamples it
			// more simply than libjpeg: about 1 ΔE on this photo, before
			// any colour conversion (a colour error would be 5 or more).
			max: 1.5,
		},
		{
			name: "JPEG whose ProPhoto profile cjpeg split over 3 APP2 segments",
			make: func(t *testing.T, dir string) string {
				prof := readFile(t, requireFile(t, "/usr/share/color/icc/colord/ProPhotoRGB.icc", "colord-data"))
				// Padded past two segments' worth (the header's size
				// field grows with it; the tags are untouched), because
				// no RGB profile installed here is over 64 KB.
				big := append(append([]byte(nil), prof...), make([]byte, 140_000-len(prof))...)
				binary.BigEndian.PutUint32(big, uint32(len(big)))
				if err := os.WriteFile(filepath.Join(dir, "big.icc"), big, 0o644); err != nil {
					t.Fatal(err)
				}
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "pp.ppm", "big.icc")
				runTool(t, dir, "cjpeg", "-quality", "95", "-sample", "1x1", "-icc", "big.icc", "-outfile", "in.jpg", "pp.ppm")
				runTool(t, dir, "vips", "icc_transform", "in.jpg", "ref.png", "srgb")
				if n := bytes.Count(readFile(t, filepath.Join(dir, "in.jpg")), iccHeader); n != 3 {
					t.Fatalf("cjpeg wrote %d ICC segments, want 3", n)
				}
				return "in.jpg"
			},
			max: 1.0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := workdir(t)
			in := readFile(t, filepath.Join(dir, tc.make(t, dir)))
			ref := decodeRaw(t, readFile(t, filepath.Join(dir, "ref.png")))
			got := publish(t, in)
			de := meanDeltaE76(t, got, ref)
			t.Logf("mean ΔE76 against the reference: %.2f", de)
			if de > tc.max {
				t.Errorf("mean ΔE76 %.2f, want under %.1f", de, tc.max)
			}
			if ref.Opaque() != got.Opaque() {
				t.Errorf("transparency differs from the reference")
			}
		})
	}

	t.Run("arithmetic-coded JPEG is refused in plain words", func(t *testing.T) {
		dir := workdir(t)
		runTool(t, dir, "djpeg", "-outfile", "photo.ppm", "photo.jpg")
		runTool(t, dir, "cjpeg", "-arithmetic", "-outfile", "in.jpg", "photo.ppm")
		_, err := Process(t.Context(), readFile(t, filepath.Join(dir, "in.jpg")), testProfile(upload.VariantSpec{Name: "w", Width: 100, Height: 100, Fit: upload.FitInside, Formats: []string{"jpeg"}}), Options{})
		wantCode(t, err, upload.EUNSUPPORTED)
		if !strings.Contains(err.Error(), "arithmetic") {
			t.Errorf("error %q does not say what is wrong", err)
		}
	})
}

// TestJPEGUnsupportedFeature: a 4-component JPEG without Adobe's APP14
// segment (libvips' CMYK JPEG with that segment cut out) is ambiguous to
// the decoder; it must be refused as unsupported, not called damaged.
func TestJPEGUnsupportedFeature(t *testing.T) {
	requireTool(t, "vips")
	dir := workdir(t)
	runTool(t, dir, "vips", "icc_transform", "photo.jpg", "cmyk.jpg", "cmyk")
	data := readFile(t, filepath.Join(dir, "cmyk.jpg"))
	i := bytes.Index(data, []byte("\xFF\xEE\x00\x0EAdobe"))
	if i < 0 {
		t.Fatal("libvips wrote no APP14 segment")
	}
	data = append(data[:i:i], data[i+2+14:]...)
	_, err := Process(t.Context(), data, testProfile(upload.VariantSpec{Name: "w", Width: 100, Height: 100, Fit: upload.FitInside, Formats: []string{"jpeg"}}), Options{})
	wantCode(t, err, upload.EUNSUPPORTED)
	t.Log(err)
}
