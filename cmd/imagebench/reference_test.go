package main

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"uploader/internal/ssim"
)

// texture is a smooth but detailed test picture: a few sinusoids per
// channel, well inside 0–255.
func texture(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			for k := range 3 {
				v := 128 + 50*math.Sin(fx/(7+float64(k))+fy/23) + 40*math.Cos(fy/(5+float64(k))-fx/31)
				m.Pix[m.PixOffset(x, y)+k] = uint8(math.Round(v))
			}
			m.Pix[m.PixOffset(x, y)+3] = 255
		}
	}
	return m
}

func TestReferenceAtScaleOneIsTheSource(t *testing.T) {
	src := texture(97, 61)
	for _, lk := range refKinds[:2] {
		t.Run(lk.String(), func(t *testing.T) {
			got := reference{toPlanes(src, lk.linear), lk.linear}.full(97, 61)
			for i := range src.Pix {
				if d := int(got.Pix[i]) - int(src.Pix[i]); d < -1 || d > 1 {
					t.Fatalf("byte %d: %d, source %d", i, got.Pix[i], src.Pix[i])
				}
			}
		})
	}
}

// A 4× shrink of a linear ramp is the ramp at the output pixels' centres:
// Lanczos reproduces a straight line wherever the window lies inside.
func TestReferenceShrinksARampToItsMeans(t *testing.T) {
	const w, h = 400, 40
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			o := src.PixOffset(x, y)
			v := uint8(20 + x/2)
			src.Pix[o], src.Pix[o+1], src.Pix[o+2], src.Pix[o+3] = v, v, v, 255
		}
	}
	got := reference{toPlanes(src, false), false}.full(w/4, h/4)
	for i := 4; i < w/4-4; i++ {
		// Output pixel i covers source pixels 4i..4i+3.
		var want float64
		for x := 4 * i; x < 4*i+4; x++ {
			want += float64(20 + x/2)
		}
		want /= 4
		if g := float64(got.Pix[got.PixOffset(i, 5)]); math.Abs(g-want) > 0.6 {
			t.Errorf("output pixel %d = %v, want %.2f", i, g, want)
		}
	}
}

func TestCentreBox(t *testing.T) {
	for _, c := range []struct {
		sw, sh, w, h int
		want         box
	}{
		{6028, 3391, 150, 150, box{1318.5, 0, 4709.5, 3391}},
		{1200, 1920, 150, 150, box{0, 360, 1200, 1560}},
		{100, 100, 150, 150, box{0, 0, 100, 100}},
	} {
		if got := centreBox(c.sw, c.sh, c.w, c.h); got != c.want {
			t.Errorf("centreBox(%d×%d → %d×%d) = %v, want %v", c.sw, c.sh, c.w, c.h, got, c.want)
		}
	}
}

// The crop search finds the box a side actually cropped: a rendition made
// from the centre box moved by a known fraction of a pixel is matched by the
// reference at that shift, not at the centre.
func TestCropFindsTheSidesBox(t *testing.T) {
	src := texture(900, 600)
	const w, h = 60, 60
	for _, want := range []shift{{0.3, -0.55}, {-0.8, 0.125}, {0, 0}} {
		p := toPlanes(src, false)
		side := p.resample(cropBox(p.w, p.h, w, h, want), w, h).image(false)
		got, err := registerCrop(lumaPlanes(p), side, w, h, ssim.Of)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.x-want.x) > 1.0/32+1e-9 || math.Abs(got.y-want.y) > 1.0/32+1e-9 {
			t.Errorf("shift %+v found as %+v", want, got)
		}
		ref := reference{p, false}.crop(w, h, got)
		s, err := ssim.Of(side, ref)
		if err != nil {
			t.Fatal(err)
		}
		centre := reference{p, false}.crop(w, h, shift{})
		s0, err := ssim.Of(side, centre)
		if err != nil {
			t.Fatal(err)
		}
		if s < 0.999 || (want != shift{} && s <= s0) {
			t.Errorf("shift %+v: SSIM at the found box %.4f, at the centre %.4f", want, s, s0)
		}
	}
}

// Both decoders of the reference see the same picture: djpeg's pixels
// (through decodePPM) stay within a few levels of image/jpeg's.
func TestDecodeOriginalAgreesAcrossDecoders(t *testing.T) {
	if _, err := exec.LookPath("djpeg"); err != nil {
		t.Skip("djpeg is not installed (apt-get install libjpeg-turbo-progs)")
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, texture(203, 117), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.jpg")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := decodeOriginal(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	g, d := toRGBA(got["Go"]), toRGBA(got["djpeg"])
	var sum, n float64
	for i := range g.Pix {
		sum += math.Abs(float64(g.Pix[i]) - float64(d.Pix[i]))
		n++
	}
	if mean := sum / n; mean > 2 {
		t.Errorf("djpeg and image/jpeg differ by %.2f levels on average", mean)
	}
	if s, err := ssim.Of(g, d); err != nil || s < 0.98 {
		t.Errorf("SSIM between the decodes %.4f, %v", s, err)
	}
}

func TestDecodePPMRejectsOtherFormats(t *testing.T) {
	for _, b := range []string{"P5 2 2 255\n\x00\x00\x00\x00", "P6 2 2 65535\n", "P6 2 2 255\n\x00"} {
		if _, err := decodePPM([]byte(b)); err == nil {
			t.Errorf("decodePPM(%q) took it", b)
		}
	}
}

// libvips' crop box is where the bench says it is. As vipsref crops its
// w2048 frame, vipsthumbnail takes a 400×225 picture to 150 high with a
// reduce alone (no integer shrink), to a frame of rint(266.67) = 267
// pixels that the whole width is mapped onto, and crops 150 from pixel 58
// ((267−150)/2, rounded down): the box's centre is at 133 of the frame,
// the exact centre at 133.5, so −1/2 output pixel, the shift the bench
// finds on the Kleiber and sunset crops (frames 267 and 225 wide).
func TestRegisterCropFindsLibvipsBox(t *testing.T) {
	if _, err := exec.LookPath("vipsthumbnail"); err != nil {
		t.Skip("vipsthumbnail is not installed (apt-get install libvips-tools)")
	}
	dir := t.TempDir()
	src := texture(400, 225)
	in := filepath.Join(dir, "in.png")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.png")
	if b, err := exec.Command("vipsthumbnail", in, "--size", "150x150", "--smartcrop", "centre", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("vipsthumbnail: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if s := thumb.Bounds().Size(); s != image.Pt(150, 150) {
		t.Fatalf("vipsthumbnail made %v", s)
	}
	got, err := registerCrop(lumaPlanes(toPlanes(src, false)), thumb, 150, 150, ssim.Of)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.x+0.5) > 1.0/16+1e-9 || math.Abs(got.y) > 1.0/16+1e-9 {
		t.Errorf("libvips' crop found at %+v output pixels, want −1/2, 0", got)
	}
}
