package imageproc

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"

	"uploader/internal/upload"
)

func toYCbCr(t *testing.T, m image.Image, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	t.Helper()
	b := m.Bounds()
	y := image.NewYCbCr(b, ratio)
	for py := b.Min.Y; py < b.Max.Y; py++ {
		for px := b.Min.X; px < b.Max.X; px++ {
			r, g, bb, _ := m.At(px, py).RGBA()
			yy, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bb>>8))
			y.Y[y.YOffset(px, py)] = yy
			// Chroma samples shared by several pixels keep the last one's
			// value, which is good enough for a smooth test image.
			y.Cb[y.COffset(px, py)] = cb
			y.Cr[y.COffset(px, py)] = cr
		}
	}
	return y
}

// TestResizeYCbCr compares resampling from the planes with converting to
// RGBA first and resampling that, which is what it replaces.
func TestResizeYCbCr(t *testing.T) {
	src := photo(401, 301, 5)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440,
	} {
		ycc := toYCbCr(t, src, ratio)
		for _, size := range [][2]int{{200, 150}, {133, 100}, {40, 30}, {390, 290}, {1, 1}} {
			t.Run(fmt.Sprintf("%v/%dx%d", ratio, size[0], size[1]), func(t *testing.T) {
				got := resizeYCbCr(ycc, size[0], size[1])
				rgba, _ := toNRGBA(ycc)
				want := resizeOpaque(rgba, size[0], size[1])
				if got.Rect != want.Rect {
					t.Fatalf("bounds %v, want %v", got.Rect, want.Rect)
				}
				// Chroma is filtered at its own resolution rather than
				// replicated first, so small differences are expected.
				if d := meanAbsDiff(got, want); d > 1.5 {
					t.Errorf("differs from resizing the RGBA conversion by %.2f per channel", d)
				}
			})
		}
	}
	t.Run("4:4:4 at the same size is the plain conversion", func(t *testing.T) {
		ycc := toYCbCr(t, src, image.YCbCrSubsampleRatio444)
		got := resizeYCbCr(ycc, 401, 301)
		want := image.NewRGBA(ycc.Rect)
		draw.Draw(want, want.Rect, ycc, image.Point{}, draw.Src)
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Error("pixels differ from image/draw's conversion")
		}
	})
	t.Run("flat stays flat", func(t *testing.T) {
		c := color.NRGBA{37, 201, 120, 255}
		ycc := toYCbCr(t, solid(333, 211, c), image.YCbCrSubsampleRatio420)
		want := color.NRGBAModel.Convert(ycc.At(0, 0)).(color.NRGBA)
		got := resizeYCbCr(ycc, 97, 61)
		for i := 0; i < len(got.Pix); i += 4 {
			if p := (color.NRGBA{got.Pix[i], got.Pix[i+1], got.Pix[i+2], got.Pix[i+3]}); p != want {
				t.Fatalf("pixel %d = %v, want %v", i/4, p, want)
			}
		}
	})
	t.Run("sub-image", func(t *testing.T) {
		ycc := toYCbCr(t, src, image.YCbCrSubsampleRatio420)
		sub := ycc.SubImage(image.Rect(50, 40, 350, 280)).(*image.YCbCr)
		got := resizeYCbCr(sub, 100, 80)
		want := resizeOpaque(imaging.Clone(sub), 100, 80)
		if d := meanAbsDiff(got, want); d > 1.5 {
			t.Errorf("differs by %.2f per channel", d)
		}
	})
}

func TestLoadShift(t *testing.T) {
	tests := []struct {
		ct   string
		full float64
		want uint
	}{
		{TypeJPEG, 1, 0},
		{TypeJPEG, 0.5, 1},           // exactly 1/2: the reduced decode is the whole resize
		{TypeJPEG, 2048.0 / 6000, 1}, // a 24 MP photo at 2048
		{TypeJPEG, 2048.0 / 4272, 1}, // the 12 MP photo of cmd/imagebench at 2048
		{TypeJPEG, 2048.0 / 4000, 0}, // a 4000-pixel photo: 1/2 would be below 2048
		{TypeJPEG, 0.1, 3},
		{TypeJPEG, 0.01, 3}, // never below 1/8
		{TypePNG, 0.01, 0},
		{TypeWebP, 0.01, 0},
		{TypeJPEG, 0, 0},
	}
	for _, tc := range tests {
		if got := loadShift(tc.ct, tc.full); got != tc.want {
			t.Errorf("loadShift(%s, %.3f) = %d, want %d", tc.ct, tc.full, got, tc.want)
		}
	}
}

// TestReducedDecodeOrientation runs large enough JPEGs that the decoder
// reduces them and the first variant comes straight from the planes, at
// every EXIF orientation: sizes and corners must come out upright.
func TestReducedDecodeOrientation(t *testing.T) {
	upright := quadrants(1600, 1200)
	inverse := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone, 2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV,
		5: imaging.Transpose, 6: imaging.Rotate90, 7: imaging.Transverse, 8: imaging.Rotate270,
	}
	p := testProfile(
		upload.VariantSpec{Name: "w300", Width: 300, Height: 300, Fit: upload.FitInside, Formats: []string{"jpeg", "png"}, Quality: 90},
		upload.VariantSpec{Name: "c64", Width: 64, Height: 32, Fit: upload.FitCover, Formats: []string{"png"}, Quality: 90},
	)
	if s := loadShift(TypeJPEG, 300.0/1600); s == 0 {
		t.Fatalf("test does not exercise the reduced decode (shift %d)", s)
	}
	for o := 1; o <= 8; o++ {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			data := withEXIF(encodeJPEG(t, inverse[o](upright), 90), exifTIFF(binary.LittleEndian, o, ""))
			res, err := Process(context.Background(), data, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != 1600 || res.Height != 1200 {
				t.Fatalf("source %dx%d, want 1600x1200", res.Width, res.Height)
			}
			for _, out := range res.Outputs {
				m := decodeOutput(t, out)
				w, h := m.Bounds().Dx(), m.Bounds().Dy()
				if out.Spec == "w300" && (w != 300 || h != 225) || out.Spec == "c64" && (w != 64 || h != 32) {
					t.Fatalf("%s is %dx%d", out.File, w, h)
				}
				for _, c := range [][2]bool{{true, true}, {false, true}, {true, false}, {false, false}} {
					x, y := w/5, h/5
					if !c[0] {
						x = w - 1 - w/5
					}
					if !c[1] {
						y = h - 1 - h/5
					}
					if want := quadrantColor(c[0], c[1]); !near(m.At(x, y), want, 40) {
						t.Errorf("%s at (%d,%d) = %v, want %v", out.File, x, y, m.At(x, y), want)
					}
				}
			}
		})
	}
}

// TestLargeJPEGMatchesLanczos is TestCascadeMatchesDirect for the JPEG
// path: reduced decode, first variant from the planes, the rest cascaded,
// all close to a Lanczos resize of the full decoded image.
func TestLargeJPEGMatchesLanczos(t *testing.T) {
	data := encodeJPEG(t, photo(2400, 1800, 7), 95)
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := testProfile(
		upload.VariantSpec{Name: "a", Width: 800, Height: 800, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 80},
		upload.VariantSpec{Name: "b", Width: 300, Height: 300, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 80},
		upload.VariantSpec{Name: "c", Width: 100, Height: 100, Fit: upload.FitCover, Formats: []string{"png"}, Quality: 80},
	)
	if s := loadShift(TypeJPEG, 800.0/2400); s == 0 {
		t.Fatalf("test does not exercise the reduced decode")
	}
	res, err := Process(context.Background(), data, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	closeToLanczos(t, src, res, "c")
}

// TestChromaLikeLibjpeg checks that a subsampled JPEG kept at its own size
// comes out as libjpeg-turbo's djpeg shows it, whose chroma is interpolated,
// and not with image/draw's replicated chroma: the blocky chroma was what
// made our WebPs of such photos 5% larger than libvips'. The planes differ
// from libjpeg's by the IDCT's rounding only, so a few code values at most;
// the replicated conversion is off by 20 and more at colour edges.
func TestChromaLikeLibjpeg(t *testing.T) {
	dir := workdir(t)
	// Odd sizes exercise the last chroma column and row.
	runTool(t, dir, "vips", "crop", "photo.jpg", "crop.ppm", "0", "0", "479", "299")
	for _, tc := range []struct{ name, sample string }{
		{"4:2:0", "2x2"},
		{"4:2:2", "2x1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runTool(t, dir, "cjpeg", "-quality", "90", "-sample", tc.sample, "-outfile", "in.jpg", "crop.ppm")
			runTool(t, dir, "djpeg", "-bmp", "-outfile", "ref.bmp", "in.jpg")
			data := readFile(t, filepath.Join(dir, "in.jpg"))
			refImg, err := bmp.Decode(bytes.NewReader(readFile(t, filepath.Join(dir, "ref.bmp"))))
			if err != nil {
				t.Fatal(err)
			}
			ref := imaging.Clone(refImg)
			got := decodeFile(t, data)
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			replicated := image.NewRGBA(img.Bounds())
			draw.Draw(replicated, replicated.Rect, img, image.Point{}, draw.Src)
			gotMax, gotMean := maxMeanDiff(got, ref)
			oldMax, oldMean := maxMeanDiff(&image.NRGBA{Pix: replicated.Pix, Stride: replicated.Stride, Rect: replicated.Rect}, ref)
			t.Logf("against djpeg: max %d, mean %.3f (replicated chroma: max %d, mean %.3f)", gotMax, gotMean, oldMax, oldMean)
			if gotMax > 4 || gotMean > 0.4 {
				t.Errorf("differs from djpeg by up to %d (mean %.3f), want at most 4 (mean 0.4)", gotMax, gotMean)
			}
			if oldMax <= 4 {
				t.Errorf("replicated chroma is only %d from djpeg; the image does not test interpolation", oldMax)
			}
		})
	}
}

func maxMeanDiff(a, b *image.NRGBA) (int, float64) {
	if a.Rect.Size() != b.Rect.Size() {
		return 255, 255
	}
	mx, sum := 0, 0
	for i := range a.Pix {
		d := abs(int(a.Pix[i]) - int(b.Pix[i]))
		mx = max(mx, d)
		sum += d
	}
	return mx, float64(sum) / float64(len(a.Pix))
}
