package imageproc

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gen2brain/heic"

	"uploader/internal/testenv"
	"uploader/internal/upload"
)

// realTool runs a command-line tool (vips, heif-enc, cjpeg, convert) in
// dir. A missing tool skips the test, or fails it under CI=true.
func realTool(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(name)
	testenv.Require(t, name, err)
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// convertWith writes src as a high-quality JPEG, converts it with a real
// tool and returns the converted file. how is "vips" (libvips' heifsave,
// by extension) or "heif-enc" (libheif's own encoder).
func convertWith(t testing.TB, how string, src image.Image, ext string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jpg"), encodeJPEG(t, src, 95), 0o644); err != nil {
		t.Fatal(err)
	}
	return convertFile(t, how, dir, "in.jpg", ext)
}

func convertFile(t testing.TB, how, dir, in, ext string) []byte {
	t.Helper()
	out := "out." + ext
	switch how {
	case "vips":
		realTool(t, dir, "vips", "copy", in, out)
	case "heif-enc":
		args := []string{"-q", "90", "-o", out, in}
		if ext == "avif" {
			args = append([]string{"-A"}, args...)
		}
		realTool(t, dir, "heif-enc", args...)
	default:
		t.Fatalf("unknown converter %q", how)
	}
	b, err := os.ReadFile(filepath.Join(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replaceProperty overwrites, in place, each ipco property of type old
// (the first only, with once) with a box of the same size and type typ whose payload starts with
// payload. The rest of the file (item locations included) stays valid,
// which is how a test gets an irot into a file that a real encoder wrote:
// none of the encoders installed here writes irot or imir.
func replaceProperty(t testing.TB, file []byte, old, typ string, payload []byte) []byte {
	t.Helper()
	return replaceProperties(t, file, old, typ, payload, true)
}

func replaceProperties(t testing.TB, file []byte, old, typ string, payload []byte, once bool) []byte {
	t.Helper()
	f := bytes.Clone(file)
	i := bytes.Index(f, []byte("ipco"))
	if i < 0 {
		t.Fatal("no ipco box")
	}
	n := 0
	for {
		j := bytes.Index(f[i:], []byte(old))
		if j < 4 {
			break
		}
		box := i + j - 4
		size := int(binary.BigEndian.Uint32(f[box:]))
		if 8+len(payload) > size {
			t.Fatalf("%s is %d bytes, too small for %s", old, size, typ)
		}
		copy(f[box+4:], typ)
		clear(f[box+8 : box+size])
		copy(f[box+8:], payload)
		n++
		if once {
			break
		}
		i = box + size
	}
	if n == 0 {
		t.Fatalf("no %s property", old)
	}
	return f
}

// TestHEIFAndAVIFInput converts one photo with libvips and with libheif's
// heif-enc into HEIC and AVIF, and checks each comes out of the pipeline
// with the right type, size and colours.
func TestHEIFAndAVIFInput(t *testing.T) {
	src := quadrants(640, 480)
	p := testProfile(upload.VariantSpec{Name: "w320", Width: 320, Height: 320, Fit: upload.FitInside, Formats: []string{"jpeg"}, Quality: 90})
	for _, tc := range []struct{ how, ext, want string }{
		{"vips", "heic", TypeHEIC},
		{"vips", "avif", TypeAVIF},
		{"heif-enc", "heic", TypeHEIC},
		{"heif-enc", "avif", TypeAVIF},
	} {
		t.Run(tc.how+"/"+tc.ext, func(t *testing.T) {
			file := convertWith(t, tc.how, src, tc.ext)
			if ct, err := Sniff(file[:min(len(file), 512)]); err != nil || ct != tc.want {
				t.Fatalf("Sniff = %q, %v; want %q", ct, err, tc.want)
			}
			res, err := Process(context.Background(), file, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != tc.want || res.Width != 640 || res.Height != 480 {
				t.Fatalf("got %s %dx%d, want %s 640x480", res.ContentType, res.Width, res.Height, tc.want)
			}
			checkQuadrants(t, decodeOutput(t, res.Outputs[0]))
		})
	}
}

// checkQuadrants asserts m shows quadrants() upright: red top left, green
// top right, blue bottom left, white bottom right.
func checkQuadrants(t *testing.T, m image.Image) {
	t.Helper()
	b := m.Bounds()
	for _, c := range []struct {
		x, y int
		want color.NRGBA
	}{
		{b.Dx() / 8, b.Dy() / 8, quadrantColor(true, true)},
		{b.Dx() * 7 / 8, b.Dy() / 8, quadrantColor(false, true)},
		{b.Dx() / 8, b.Dy() * 7 / 8, quadrantColor(true, false)},
		{b.Dx() * 7 / 8, b.Dy() * 7 / 8, quadrantColor(false, false)},
	} {
		if got := m.At(b.Min.X+c.x, b.Min.Y+c.y); !near(got, c.want, 48) {
			t.Errorf("pixel (%d,%d) = %v, want about %v: the image is not upright", c.x, c.y, got, c.want)
		}
	}
}

// TestHEIFOrientation checks irot and imir (applied once: libheif applies
// them to HEVC itself, libavif does not) and EXIF orientation in files
// without them.
func TestHEIFOrientation(t *testing.T) {
	// 640×480: the WebAssembly libheif misplaces chroma of some small
	// widths (planes whose stride it pads beyond 16 bytes), a decoder bug
	// this test is not about.
	upright := quadrants(640, 480)
	p := testProfile(upload.VariantSpec{Name: "w64", Width: 64, Height: 64, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 90})
	rotate := map[int]func(image.Image) image.Image{ // the stored pixels for an irot of n quarter turns
		1: func(m image.Image) image.Image { return rotCW(m) },
		2: func(m image.Image) image.Image { return rotCW(rotCW(m)) },
		3: func(m image.Image) image.Image { return rotCW(rotCW(rotCW(m))) },
	}
	for _, ext := range []string{"heic", "avif"} {
		for turns, store := range rotate {
			t.Run(ext+"/irot"+string(rune('0'+turns)), func(t *testing.T) {
				// irot turns anticlockwise for display, so the stored
				// pixels are the upright image turned clockwise.
				file := convertWith(t, "heif-enc", store(upright), ext)
				file = replaceProperty(t, file, "pixi", "irot", []byte{byte(turns)})
				res, err := Process(context.Background(), file, p, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if res.Width != 640 || res.Height != 480 {
					t.Fatalf("size %dx%d, want 640x480", res.Width, res.Height)
				}
				checkQuadrants(t, decodeOutput(t, res.Outputs[0]))
			})
		}
		for mode, store := range map[byte]func(image.Image) image.Image{0: flipTB, 1: flipLR} {
			t.Run(ext+"/imir"+string(rune('0'+mode)), func(t *testing.T) {
				file := convertWith(t, "heif-enc", store(upright), ext)
				file = replaceProperty(t, file, "pixi", "imir", []byte{mode})
				res, err := Process(context.Background(), file, p, Options{})
				if err != nil {
					t.Fatal(err)
				}
				checkQuadrants(t, decodeOutput(t, res.Outputs[0]))
			})
		}
		t.Run(ext+"/exif6", func(t *testing.T) {
			// A JPEG from a camera held upright-right (EXIF 6), converted
			// by libvips, which copies the EXIF block and writes no irot.
			dir := t.TempDir()
			jpg := withEXIF(encodeJPEG(t, rotCW(rotCW(rotCW(upright))), 95), exifTIFF(binary.BigEndian, 6, ""))
			if err := os.WriteFile(filepath.Join(dir, "in.jpg"), jpg, 0o644); err != nil {
				t.Fatal(err)
			}
			file := convertFile(t, "vips", dir, "in.jpg", ext)
			info, err := parseHEIF(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(info.transforms) > 0 || tiffOrientation(info.exif) != 6 {
				t.Skipf("this libvips wrote irot/imir %v and EXIF orientation %d; the case needs none and 6", info.transforms, tiffOrientation(info.exif))
			}
			res, err := Process(context.Background(), file, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != 640 || res.Height != 480 {
				t.Fatalf("size %dx%d, want 640x480", res.Width, res.Height)
			}
			checkQuadrants(t, decodeOutput(t, res.Outputs[0]))
		})
	}
}

func rotCW(m image.Image) image.Image {
	b := m.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			dst.Set(b.Dy()-1-y, x, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return dst
}

func flipTB(m image.Image) image.Image { return rotCW(rotCW(flipLR(m))) }

func flipLR(m image.Image) image.Image {
	b := m.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			dst.Set(b.Dx()-1-x, y, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return dst
}

// TestHEIFPixelLimit refuses a HEIC whose ispe declares 60000×60000 before
// any decoder runs, and reads the colour of a file that says it.
func TestHEIFPixelLimit(t *testing.T) {
	file := convertWith(t, "heif-enc", quadrants(64, 48), "heic")
	big := make([]byte, 12)
	binary.BigEndian.PutUint32(big[4:], 60000)
	binary.BigEndian.PutUint32(big[8:], 60000)
	bomb := replaceProperties(t, file, "ispe", "ispe", big, false) // the grid's and its tiles'

	_, _, err := Limits{MaxPixels: 50_000_000}.Check(bomb)
	wantCode(t, err, upload.ETOOMANYPX)

	avifFile := convertWith(t, "vips", quadrants(64, 48), "avif")
	info, err := parseHEIF(avifFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.colour.CICP == nil {
		t.Fatalf("libvips writes an nclx colr box; parseHEIF found none")
	}
}

// TestHEIFDamaged: a HEIC cut in the middle of its image data fails as
// damaged, not as a crash or a retry.
func TestHEIFDamaged(t *testing.T) {
	file := convertWith(t, "heif-enc", photo(256, 256, 3), "heic")
	p := testProfile(upload.VariantSpec{Name: "w64", Width: 64, Height: 64, Fit: upload.FitInside, Formats: []string{"jpeg"}, Quality: 80})
	for _, n := range []int{40, len(file) / 3, len(file) - 200} {
		_, err := Process(context.Background(), file[:n], p, Options{})
		if err == nil {
			t.Fatalf("a HEIC cut at %d of %d bytes was accepted", n, len(file))
		}
		if c := errCode(err); c != upload.ECORRUPT {
			t.Errorf("cut at %d: code %q (%v), want %q", n, c, err, upload.ECORRUPT)
		}
	}
}

// TestAVIFOutput: a variant that lists "avif" gets an AVIF file next to the
// others, which decodes (with libavif) to the variant's size and colours.
func TestAVIFOutput(t *testing.T) {
	p := testProfile(upload.VariantSpec{Name: "w320", Width: 320, Height: 320, Fit: upload.FitInside,
		Formats: []string{upload.FormatAuto, upload.FormatWebP, upload.FormatAVIF}, Quality: 82})
	if err := p.Validate(); err != nil {
		t.Fatalf("a profile with avif output does not validate: %v", err)
	}
	res, err := Process(context.Background(), encodeJPEG(t, quadrants(640, 480), 95), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Outputs) != 3 {
		t.Fatalf("%d outputs, want jpg, webp and avif", len(res.Outputs))
	}
	out := res.Outputs[2]
	if out.File != "w320.avif" || out.ContentType != TypeAVIF {
		t.Fatalf("third output %s %s, want w320.avif image/avif", out.File, out.ContentType)
	}
	if ct, err := Sniff(out.Data); err != nil || ct != TypeAVIF {
		t.Fatalf("the AVIF output sniffs as %q, %v", ct, err)
	}
	checkQuadrants(t, decodeOutput(t, out))
	bad := p
	bad.Variants = []upload.VariantSpec{{Name: "x", Width: 1, Height: 1, Fit: upload.FitInside, Formats: []string{"jxl"}, Quality: 80}}
	if bad.Validate() == nil {
		t.Error("a profile asking for jxl output validated")
	}
}

// TestHEICTooNarrow: below 128 pixels the WebAssembly HEIC decoder misreads
// the planes, so such a file is refused with a sentence, not garbled.
func TestHEICTooNarrow(t *testing.T) {
	file := convertWith(t, "vips", quadrants(64, 48), "heic")
	_, err := Process(context.Background(), file, testProfile(upload.VariantSpec{Name: "w64", Width: 64, Height: 64, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 90}), Options{})
	if heic.Dynamic() == nil {
		if err != nil {
			t.Fatalf("a system libheif reads narrow files; got %v", err)
		}
		return
	}
	wantCode(t, err, upload.EUNSUPPORTED)
	if !strings.Contains(upload.ErrorMessage(err), "64 pixels wide") {
		t.Errorf("message %q does not say the width", upload.ErrorMessage(err))
	}
}

// TestHEIFLyingSize: a container whose ispe understates the coded picture
// (here 200×150 around a 1280×960 stream; a 16000×16000 one costs gigabytes)
// is refused from the codec headers (HEVC SPS, AV1 sequence header) before
// a decoder allocates anything for it.
func TestHEIFLyingSize(t *testing.T) {
	small := make([]byte, 12)
	binary.BigEndian.PutUint32(small[4:], 200)
	binary.BigEndian.PutUint32(small[8:], 150)
	p := testProfile(upload.VariantSpec{Name: "w64", Width: 64, Height: 64, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 90})
	for _, tc := range []struct{ how, ext string }{{"vips", "heic"}, {"vips", "avif"}, {"heif-enc", "heic"}} {
		t.Run(tc.how+"/"+tc.ext, func(t *testing.T) {
			file := convertWith(t, tc.how, quadrants(1280, 960), tc.ext)
			if _, err := Process(context.Background(), file, p, Options{}); err != nil {
				t.Fatalf("the honest file fails: %v", err)
			}
			liar := replaceProperties(t, file, "ispe", "ispe", small, false)
			_, err := Process(context.Background(), liar, p, Options{})
			wantCode(t, err, upload.ECORRUPT)
			if msg := upload.ErrorMessage(err); !strings.Contains(msg, "says 200×150 pixels") {
				t.Errorf("message %q does not say what the container claims", msg)
			}
		})
	}
}

// TestHEIFParserSurvivesDamage flips, cuts and overwrites bytes of real
// HEIC and AVIF files: the container reader runs outside the decoders'
// recover (orientation, Estimate), so it must never panic.
func TestHEIFParserSurvivesDamage(t *testing.T) {
	for _, ext := range []string{"heic", "avif"} {
		file := convertWith(t, "vips", quadrants(256, 192), ext)
		meta := bytes.Index(file, []byte("meta"))
		r := rand.New(rand.NewPCG(7, uint64(len(ext))))
		for i := range 20000 {
			f := bytes.Clone(file)
			switch i % 3 {
			case 0:
				f = f[:r.IntN(len(f))]
			case 1:
				for range 1 + r.IntN(4) {
					f[meta+r.IntN(min(len(f)-meta, 600))] = byte(r.Uint32())
				}
			case 2:
				p := meta + r.IntN(min(len(f)-meta-4, 600))
				binary.BigEndian.PutUint32(f[p:], r.Uint32())
			}
			info, _ := parseHEIF(f)
			heifOrientationFor(info)
			checkCoded(TypeHEIC, info)
		}
	}
}
