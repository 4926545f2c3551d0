package imageproc

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// vipsProfile returns one of libvips' built-in profiles ("p3", "cmyk",
// "srgb") as embedded in a small JPEG it converts.
func vipsProfile(b *testing.B, name string) []byte {
	b.Helper()
	if _, err := exec.LookPath("vips"); err != nil {
		b.Skip("vips is not installed")
	}
	dir := b.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "photo.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out.jpg")
	if err := os.WriteFile(in, src, 0o644); err != nil {
		b.Fatal(err)
	}
	if o, err := exec.Command("vips", "icc_transform", in, out, name).CombinedOutput(); err != nil {
		b.Fatalf("vips: %v %s", err, o)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return jpegICC(data)
}

// withICC embeds an ICC profile in a JPEG, split into APP2 segments.
func withICC(jpg, prof []byte) []byte {
	const max = 65519 - 14
	n := (len(prof) + max - 1) / max
	var segs [][]byte
	for i := 0; i < n; i++ {
		chunk := prof[i*max : min(len(prof), (i+1)*max)]
		segs = append(segs, jpegSegment(0xE2, append(append(append([]byte(nil), iccHeader...), byte(i+1), byte(n)), chunk...)))
	}
	return withJPEGSegments(jpg, segs...)
}

// BenchmarkToSRGB is the cost of colour conversion alone on 12 MP, per
// source kind. "sRGB profile" is the skip: parsing and recognising it.
func BenchmarkToSRGB(b *testing.B) {
	p3, cmyk, srgb := vipsProfile(b, "p3"), vipsProfile(b, "cmyk"), vipsProfile(b, "srgb")
	const w, h = 4000, 3000
	ycc, err := decode(TypeJPEG, photo12MP(), image.Config{Width: w, Height: h}, 0)
	if err != nil {
		b.Fatal(err)
	}
	nrgba, _ := toNRGBA(ycc)
	pristine := append([]byte(nil), nrgba.Pix...)
	n16 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for i := range n16.Pix {
		n16.Pix[i] = nrgba.Pix[i/2] ^ byte(i)
	}
	cm := image.NewCMYK(image.Rect(0, 0, w, h))
	// In-place conversions get their input back before each run, outside
	// the timer.
	fresh := func(m []byte) func() { return func() { copy(m, pristine) } }
	cases := []struct {
		name  string
		img   image.Image
		reset func()
		prof  []byte
	}{
		{"sRGB profile (skipped)", nrgba, func() {}, srgb},
		{"Display P3 8-bit NRGBA in place", nrgba, fresh(nrgba.Pix), p3},
		{"Display P3 8-bit YCbCr JPEG", ycc, func() {}, p3},
		{"Display P3 16-bit NRGBA64", n16, func() {}, p3},
		{"CMYK mft2 profile", cm, fresh(cm.Pix), cmyk},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(w * h) // "MB/s" reads as megapixels per second
			for b.Loop() {
				b.StopTimer()
				tc.reset()
				b.StartTimer()
				if _, err := toSRGB(tc.img, colourSource{ICC: tc.prof}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProcessPhoto12MPDisplayP3 is BenchmarkProcessPhoto12MP with a
// Display P3 profile embedded: the whole job's cost of colour management.
func BenchmarkProcessPhoto12MPDisplayP3(b *testing.B) {
	data := withICC(photo12MP(), vipsProfile(b, "p3"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(context.Background(), data, photoProfile, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
