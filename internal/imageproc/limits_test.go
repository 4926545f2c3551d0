package imageproc

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"uploader/internal/upload"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var photoProfile = upload.DefaultProfiles(DefaultMaxPixels)["photo"]

// TestPixelBombs feeds headers that declare huge images. Process must refuse
// them from the header alone: the allocation stays tiny, where decoding
// would need gigabytes.
func TestPixelBombs(t *testing.T) {
	tests := []struct {
		name, file string
		want       string
	}{
		{"png", "bomb.png", "This image is 60000×60000 pixels (3600 MP); the limit is 50 MP."},
		{"jpeg", "bomb.jpg", "This image is 60000×60000 pixels (3600 MP); the limit is 50 MP."},
		{"webp", "bomb.webp", "This image is 16000×16000 pixels (256 MP); the limit is 50 MP."},
		{"gif screen", "", "This image is 20000×20000 pixels (400 MP); the limit is 50 MP."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := gifFrames(20000, 20000, 1)
			if tc.file != "" {
				data = readTestdata(t, tc.file)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Process(context.Background(), data, photoProfile, Options{})
			runtime.ReadMemStats(&after)
			wantCode(t, err, upload.ETOOMANYPX)
			if got := upload.ErrorMessage(err); got != tc.want {
				t.Errorf("message = %q, want %q", got, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("refusing a %d-byte header allocated %d bytes", len(data), alloc)
			}
		})
	}
}

func TestPixelBombAllocs(t *testing.T) {
	data := readTestdata(t, "bomb.png")
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := Process(context.Background(), data, photoProfile, Options{}); errCode(err) != upload.ETOOMANYPX {
			t.Fatalf("err = %v", err)
		}
	})
	if allocs > 50 {
		t.Errorf("refusing a PNG bomb took %.0f allocations", allocs)
	}
}

func TestLimits(t *testing.T) {
	small := encodePNG(t, photo(100, 100, 2)) // 10 000 pixels
	tests := []struct {
		name string
		opt  Options
		p    int64
		code string
	}{
		{"under both", Options{MaxPixels: 10_000}, 20_000, ""},
		{"option lower", Options{MaxPixels: 9_999}, 20_000, upload.ETOOMANYPX},
		{"profile lower", Options{MaxPixels: 20_000}, 9_999, upload.ETOOMANYPX},
		{"profile only", Options{}, 9_999, upload.ETOOMANYPX},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testProfile(upload.VariantSpec{Name: "s", Width: 10, Height: 10, Fit: upload.FitInside, Formats: []string{"auto"}, Quality: 80})
			p.MaxPixels = tc.p
			_, err := Process(context.Background(), small, p, tc.opt)
			if got := errCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
		})
	}
}

func TestGIFFrames(t *testing.T) {
	t.Run("frame bomb", func(t *testing.T) {
		_, err := Process(context.Background(), readTestdata(t, "gifbomb.gif"), photoProfile, Options{})
		wantCode(t, err, upload.ETOOMANYPX)
		if msg := upload.ErrorMessage(err); !strings.Contains(msg, "frames") {
			t.Errorf("message %q does not mention frames", msg)
		}
	})
	t.Run("explicit budget", func(t *testing.T) {
		data := gifFrames(100, 100, 10) // 100 000 pixels over all frames
		if _, _, err := (Limits{MaxPixels: 10_000, MaxGIFFramePixels: 100_000}).Check(data); err != nil {
			t.Fatalf("at the budget: %v", err)
		}
		_, _, err := (Limits{MaxPixels: 10_000, MaxGIFFramePixels: 99_999}).Check(data)
		wantCode(t, err, upload.ETOOMANYPX)
	})
	t.Run("animation becomes first frame", func(t *testing.T) {
		pal := color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}}
		anim := &gif.GIF{}
		for i := range 3 {
			f := image.NewPaletted(image.Rect(0, 0, 40, 30), pal)
			for j := range f.Pix {
				f.Pix[j] = uint8(min(i, 1))
			}
			anim.Image = append(anim.Image, f)
			anim.Delay = append(anim.Delay, 10)
		}
		var b bytes.Buffer
		if err := gif.EncodeAll(&b, anim); err != nil {
			t.Fatal(err)
		}
		p := testProfile(upload.VariantSpec{Name: "o", Width: 100, Height: 100, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 80})
		res, err := Process(context.Background(), b.Bytes(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := decodeOutput(t, res.Outputs[0])
		if !near(m.At(20, 15), color.NRGBA{255, 0, 0, 255}, 0) {
			t.Errorf("still shows %v, want the red first frame", m.At(20, 15))
		}
	})
	t.Run("offset first frame on transparent screen", func(t *testing.T) {
		pal := color.Palette{color.NRGBA{0, 255, 0, 255}}
		f := image.NewPaletted(image.Rect(10, 10, 20, 20), pal)
		var b bytes.Buffer
		g := &gif.GIF{Image: []*image.Paletted{f}, Delay: []int{0}, Config: image.Config{Width: 30, Height: 30, ColorModel: pal}}
		if err := gif.EncodeAll(&b, g); err != nil {
			t.Fatal(err)
		}
		p := testProfile(upload.VariantSpec{Name: "o", Width: 100, Height: 100, Fit: upload.FitInside, Formats: []string{"auto"}, Quality: 80})
		res, err := Process(context.Background(), b.Bytes(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != 30 || !res.HasAlpha || res.Outputs[0].ContentType != TypePNG {
			t.Fatalf("got %dx%d alpha=%v %s; want the 30x30 screen with transparency, as PNG", res.Width, res.Height, res.HasAlpha, res.Outputs[0].ContentType)
		}
		m := decodeOutput(t, res.Outputs[0])
		if _, _, _, a := m.At(0, 0).RGBA(); a != 0 {
			t.Errorf("outside the frame alpha = %d, want transparent", a)
		}
		if !near(m.At(15, 15), color.NRGBA{0, 255, 0, 255}, 0) {
			t.Errorf("inside the frame = %v, want green", m.At(15, 15))
		}
	})
}

// TestCorrupt checks damaged files are refused as corrupt, never with a
// panic or an internal error.
func TestCorrupt(t *testing.T) {
	jpg := readTestdata(t, "small.jpg")
	png := readTestdata(t, "small.png")
	webpData := readTestdata(t, "small.webp")
	gifData := encodeGIF(t, photo(32, 32, 3))
	flip := func(b []byte, from int) []byte {
		c := bytes.Clone(b)
		for i := from; i < len(c); i += 7 {
			c[i] ^= 0x5A
		}
		return c
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated jpeg", readTestdata(t, "truncated.jpg")},
		{"jpeg header only", jpg[:20]},
		{"jpeg scrambled", flip(jpg, 200)},
		{"truncated png", readTestdata(t, "truncated.png")},
		{"png bad crc", flip(png, 40)},
		{"gif truncated", gifData[:len(gifData)/2]},
		{"gif magic only", []byte("GIF89a")},
		{"webp truncated", webpData[:len(webpData)/2]},
		{"webp header only", webpData[:20]},
		{"zero-size png", pngHeader(0, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Process(context.Background(), tc.data, photoProfile, Options{})
			wantCode(t, err, upload.ECORRUPT)
			if msg := upload.ErrorMessage(err); !strings.HasPrefix(msg, "The file is damaged or incomplete: ") {
				t.Errorf("message = %q", msg)
			}
		})
	}
}

func encodeGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRefusesOtherFormats makes sure files of formats whose decoders are
// linked in (imaging registers TIFF and BMP) are still refused.
func TestRefusesOtherFormats(t *testing.T) {
	bmp := make([]byte, 54+4)
	copy(bmp, "BM")
	bmp[10], bmp[14], bmp[18], bmp[22], bmp[26], bmp[28] = 54, 40, 1, 1, 1, 24
	tests := map[string][]byte{
		"bmp":  bmp,
		"tiff": []byte("II*\x00\x08\x00\x00\x00\x00\x00"),
		"svg":  readTestdata(t, "drawing.svg"),
		"html": readTestdata(t, "page.jpg"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Process(context.Background(), data, photoProfile, Options{})
			wantCode(t, err, upload.EUNSUPPORTED)
		})
	}
	t.Run("animated webp", func(t *testing.T) {
		data := webpVP8XHeader(100, 100)
		data[20] |= 0x02 // animation flag
		_, err := Process(context.Background(), data, photoProfile, Options{})
		wantCode(t, err, upload.EUNSUPPORTED)
		if msg := upload.ErrorMessage(err); !strings.Contains(msg, "animated WebP") {
			t.Errorf("message = %q", msg)
		}
	})
	t.Run("type not in profile", func(t *testing.T) {
		p := photoProfile
		p.AllowedTypes = []string{TypeJPEG}
		_, err := Process(context.Background(), readTestdata(t, "small.png"), p, Options{})
		wantCode(t, err, upload.EUNSUPPORTED)
	})
}

// TestNoGenericDecoders reads this package's source: image.Decode would pick
// any registered decoder, and importing x/image/tiff or bmp would add
// decoders for formats the service refuses.
func TestNoGenericDecoders(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly|parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "golang.org/x/image/tiff" || p == "golang.org/x/image/bmp" {
				t.Errorf("%s imports %s", name, p)
			}
		}
		f, err = parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "image" && (sel.Sel.Name == "Decode" || sel.Sel.Name == "DecodeConfig") {
				t.Errorf("%s: image.%s lets the registry choose the decoder", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}
