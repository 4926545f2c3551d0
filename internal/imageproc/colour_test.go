package imageproc

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"

	"uploader/internal/imageproc/internal/icc"
	"uploader/internal/imageproc/internal/jpegscale"
)

// testdata/photo.jpg is a real photograph: "LadyBird" by Charles Barbin
// (GPL-2+), from Debian's mate-backgrounds package, reduced to 480×300 with
// vipsthumbnail. The files the colour tests convert are made from it at
// test time by libvips, ImageMagick and cjpeg, and the references are
// libvips' own conversions of those files to sRGB (Little CMS underneath),
// which is what sharp and imgproxy publish.

// requireTool returns the path of a command-line tool. Without it the test
// is skipped, except under CI=true, where it fails.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/ensure-deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// requireFile is requireTool for a file a Debian package installs.
func requireFile(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: install %s (scripts/ensure-deps.sh does)", path, pkg)
		}
		t.Skipf("%s is missing (package %s)", path, pkg)
	}
	return path
}

// runTool runs a command in dir and fails the test with its output if it
// fails.
func runTool(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(requireTool(t, name), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// workdir is a temporary directory holding a copy of testdata/photo.jpg.
func workdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "photo.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "photo.jpg"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeFile runs a file through the pipeline's decode step (sniff, limits,
// decode, colour conversion) and returns 8-bit pixels.
func decodeFile(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	ct, cfg, err := Limits{}.Check(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := decode(ct, data, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := toNRGBA(img)
	return n
}

// decodeRaw decodes without any colour management: the pipeline's old
// behaviour, which the tests show to be wrong.
func decodeRaw(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	ct, _ := Sniff(data)
	var img image.Image
	var err error
	switch ct {
	case TypeJPEG:
		img, err = jpegscale.Decode(bytes.NewReader(data), 0)
	case TypePNG:
		img, err = png.Decode(bytes.NewReader(data))
	case TypeWebP:
		img, err = webp.Decode(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	n, _ := toNRGBA(img)
	return n
}

// lab converts an 8-bit sRGB colour to CIELAB (D65 white).
func lab(r, g, b uint8) [3]float64 {
	lin := [3]float64{icc.SRGBDecode(float64(r) / 255), icc.SRGBDecode(float64(g) / 255), icc.SRGBDecode(float64(b) / 255)}
	x := 0.4124564*lin[0] + 0.3575761*lin[1] + 0.1804375*lin[2]
	y := 0.2126729*lin[0] + 0.7151522*lin[1] + 0.0721750*lin[2]
	z := 0.0193339*lin[0] + 0.1191920*lin[1] + 0.9503041*lin[2]
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	fx, fy, fz := f(x/0.95047), f(y), f(z/1.08883)
	return [3]float64{116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)}
}

// meanDeltaE76 is the mean CIE76 colour difference between two images of
// the same size, over opaque pixels.
func meanDeltaE76(t *testing.T, a, b *image.NRGBA) float64 {
	t.Helper()
	if a.Rect.Size() != b.Rect.Size() {
		t.Fatalf("sizes differ: %v and %v", a.Rect.Size(), b.Rect.Size())
	}
	var sum float64
	n := 0
	for y := 0; y < a.Rect.Dy(); y++ {
		pa, pb := a.Pix[y*a.Stride:], b.Pix[y*b.Stride:]
		for x := 0; x < a.Rect.Dx(); x++ {
			i := 4 * x
			if pa[i+3] == 0 || pb[i+3] == 0 {
				continue
			}
			la, lb := lab(pa[i], pa[i+1], pa[i+2]), lab(pb[i], pb[i+1], pb[i+2])
			sum += math.Sqrt((la[0]-lb[0])*(la[0]-lb[0]) + (la[1]-lb[1])*(la[1]-lb[1]) + (la[2]-lb[2])*(la[2]-lb[2]))
			n++
		}
	}
	return sum / float64(n)
}

// TestColourAgainstLibvips converts real files that real tools tagged with
// wide-gamut, print and gray profiles, and compares our sRGB pixels with
// libvips' sRGB export of the same file. Each case also measures the old
// behaviour (pixels taken as sRGB), so a threshold the old code would meet
// is caught here.
func TestColourAgainstLibvips(t *testing.T) {
	requireTool(t, "vips")
	adobe := "/usr/share/color/icc/compatibleWithAdobeRGB1998.icc"
	prophoto := "/usr/share/color/icc/colord/ProPhotoRGB.icc"
	gray := "/usr/share/color/icc/Gray.icc"
	grayL := "/usr/share/color/icc/Gray-CIE_L.icc"
	cases := []struct {
		name string
		// make writes in.* into dir; ref writes ref.png, libvips' sRGB.
		make     func(t *testing.T, dir string) string
		ref      []string
		max, old float64 // our ΔE must be under max; the old one over old
	}{
		{
			name: "Display P3 JPEG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.jpg[Q=95]", "p3")
				return "in.jpg"
			},
			ref: []string{"icc_transform", "in.jpg", "ref.png", "srgb"},
			max: 1.0, old: 3,
		},
		{
			name: "Adobe RGB (1998) JPEG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.jpg[Q=95]", requireFile(t, adobe, "icc-profiles-free"))
				return "in.jpg"
			},
			ref: []string{"icc_transform", "in.jpg", "ref.png", "srgb"},
			max: 1.0, old: 3,
		},
		{
			name: "ProPhoto RGB 16-bit PNG",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.png", requireFile(t, prophoto, "colord-data"), "--depth", "16")
				return "in.png"
			},
			ref: []string{"icc_transform", "in.png", "ref.png", "srgb"},
			max: 1.0, old: 5,
		},
		{
			name: "CMYK JPEG (Adobe inverted, profile in 15 APP2 segments)",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.jpg[Q=95]", "cmyk")
				return "in.jpg"
			},
			ref: []string{"icc_transform", "in.jpg", "ref.png", "srgb", "--intent", "perceptual"},
			max: 1.5, old: 5,
		},
		{
			// Over 8·17⁴ pixels, so the conversion goes through the
			// sampled grid rather than the profile's own tables.
			name: "CMYK JPEG of 1.1 MP (sampled transform)",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "resize", "photo.jpg", "big.v", "2.5")
				runTool(t, dir, "vips", "icc_transform", "big.v", "in.jpg[Q=95]", "cmyk", "--input-profile", "srgb")
				return "in.jpg"
			},
			ref: []string{"icc_transform", "in.jpg", "ref.png", "srgb", "--intent", "perceptual"},
			max: 1.5, old: 5,
		},
		{
			name: "gray JPEG with a gamma 1.0 profile",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "convert", "photo.jpg", "-colorspace", "Gray", "gray.jpg")
				// With no profile in the file, -profile assigns one.
				runTool(t, dir, "convert", "gray.jpg", "-profile", requireFile(t, gray, "icc-profiles-free"), "in.jpg")
				return "in.jpg"
			},
			ref: []string{"icc_transform", "in.jpg", "ref.png", "srgb"},
			max: 1.0, old: 5,
		},
		{
			name: "gray JPEG with an L* profile (Lab PCS)",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "convert", "photo.jpg", "-colorspace", "Gray", "gray.jpg")
				runTool(t, dir, "convert", "gray.jpg", "-profile", requireFile(t, grayL, "icc-profiles-free"), "in.jpg")
				return "in.jpg"
			},
			ref: []string{"icc_transform", "in.jpg", "ref.png", "srgb"},
			max: 1.0, old: 2,
		},
		{
			// Lossless, so the two WebP decoders' different chroma
			// upsampling does not count as a colour difference.
			name: "Display P3 WebP (VP8X ICCP)",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.webp[lossless]", "p3")
				return "in.webp"
			},
			ref: []string{"icc_transform", "in.webp", "ref.png", "srgb"},
			max: 1.0, old: 3,
		},
		{
			name: "Display P3 PNG (iCCP)",
			make: func(t *testing.T, dir string) string {
				runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.png", "p3")
				return "in.png"
			},
			ref: []string{"icc_transform", "in.png", "ref.png", "srgb"},
			max: 1.0, old: 3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := workdir(t)
			in := readFile(t, filepath.Join(dir, tc.make(t, dir)))
			runTool(t, dir, "vips", tc.ref...)
			ref := decodeRaw(t, readFile(t, filepath.Join(dir, "ref.png")))
			got := decodeFile(t, in)
			de, old := meanDeltaE76(t, got, ref), meanDeltaE76(t, decodeRaw(t, in), ref)
			t.Logf("mean ΔE76 against libvips: %.2f (untransformed: %.2f)", de, old)
			if de > tc.max {
				t.Errorf("mean ΔE76 %.2f against libvips' sRGB, want under %.1f", de, tc.max)
			}
			if old < tc.old {
				t.Errorf("untransformed pixels are only %.2f from the reference; the case does not test conversion", old)
			}
		})
	}
}

// TestSRGBProfilesSkipped checks that the sRGB profiles real files carry
// are recognised from their colorants and curves, whatever their
// description, so those images are not converted at all.
func TestSRGBProfilesSkipped(t *testing.T) {
	requireTool(t, "vips")
	dir := workdir(t)
	runTool(t, dir, "vips", "icc_transform", "photo.jpg", "vips-srgb.jpg", "srgb")
	profiles := map[string][]byte{"libvips' built-in sRGB": jpegICC(readFile(t, filepath.Join(dir, "vips-srgb.jpg")))}
	for _, f := range []string{"/usr/share/color/icc/sRGB.icc", "/usr/share/color/icc/colord/sRGB.icc"} {
		if b, err := os.ReadFile(f); err == nil {
			profiles[f] = b
		}
	}
	for name, b := range profiles {
		if len(b) == 0 {
			t.Fatalf("%s: no profile", name)
		}
		p, err := icc.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !p.IsSRGB() {
			t.Errorf("%s is not recognised as sRGB", name)
		}
		img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
		got, err := toSRGB(img, colourSource{ICC: b})
		if err != nil || got != image.Image(img) {
			t.Errorf("%s: toSRGB converted an sRGB image (err %v)", name, err)
		}
	}
	for _, name := range []string{"p3", "cmyk"} {
		runTool(t, dir, "vips", "icc_transform", "photo.jpg", name+".jpg", name)
		p, err := icc.Parse(jpegICC(readFile(t, filepath.Join(dir, name+".jpg"))))
		if err != nil {
			t.Fatal(err)
		}
		if p.IsSRGB() {
			t.Errorf("libvips' %s profile is taken for sRGB", name)
		}
	}
}

// TestCICP converts through H.273 code points, which HEIF and AVIF files
// carry instead of a profile: libvips makes the Display P3 and Rec. 709
// pixels with ICC profiles, and the CICP path must match its sRGB export.
func TestCICP(t *testing.T) {
	requireTool(t, "vips")
	cases := []struct {
		name    string
		profile string // for vips icc_transform
		code    cicp
	}{
		{"Display P3 (12/13)", "p3", cicp{Primaries: 12, Transfer: 13, Matrix: 0, FullRange: true}},
		{"Rec. 709 (1/1)", requireFile(t, "/usr/share/color/icc/colord/Rec709.icc", "colord-data"), cicp{Primaries: 1, Transfer: 1, Matrix: 0, FullRange: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := workdir(t)
			runTool(t, dir, "vips", "icc_transform", "photo.jpg", "in.png", tc.profile)
			runTool(t, dir, "vips", "icc_transform", "in.png", "ref.png", "srgb")
			raw := decodeRaw(t, readFile(t, filepath.Join(dir, "in.png")))
			ref := decodeRaw(t, readFile(t, filepath.Join(dir, "ref.png")))
			old := meanDeltaE76(t, raw, ref)
			code := tc.code
			img, err := toSRGB(raw, colourSource{CICP: &code}) // converts raw in place
			if err != nil {
				t.Fatal(err)
			}
			got, _ := toNRGBA(img)
			de := meanDeltaE76(t, got, ref)
			t.Logf("mean ΔE76 %.2f (untransformed: %.2f)", de, old)
			if de > 1 {
				t.Errorf("mean ΔE76 %.2f against libvips, want under 1", de)
			}
			if old < 2 {
				t.Errorf("untransformed pixels are only %.2f from the reference; the case does not test conversion", old)
			}
		})
	}
	// sRGB code points, and unknown ones, cost nothing.
	for _, c := range []cicp{{1, 13, 6, true}, {2, 2, 2, false}, {1, 2, 0, true}, {200, 13, 0, true}} {
		img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
		if got, _ := toSRGB(img, colourSource{CICP: &c}); got != image.Image(img) {
			t.Errorf("CICP %v converted the image", c)
		}
	}
}

func TestConvertsColour(t *testing.T) {
	requireTool(t, "vips")
	dir := workdir(t)
	runTool(t, dir, "vips", "icc_transform", "photo.jpg", "p3.jpg", "p3")
	runTool(t, dir, "vips", "icc_transform", "photo.jpg", "srgb.jpg", "srgb")
	for name, want := range map[string]bool{"photo.jpg": false, "srgb.jpg": false, "p3.jpg": true} {
		if got := convertsColour(TypeJPEG, readFile(t, filepath.Join(dir, name))); got != want {
			t.Errorf("convertsColour(%s) = %v, want %v", name, got, want)
		}
	}
}
