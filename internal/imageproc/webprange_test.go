package imageproc

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"uploader/internal/upload"
)

// TestLossyWebPRange: a lossy WebP stores video-range YCbCr (Y 16…235),
// as libwebp writes it. Decoded as full-range JFIF values, as image.YCbCr
// converts them, black came out 16 and white 235: every variant of a WebP
// photo was washed out. The file is made by cwebp; black must stay black and
// white white, both when a variant is resampled from the planes and when it
// is not shrunk.
func TestLossyWebPRange(t *testing.T) {
	dir := t.TempDir()
	src := image.NewNRGBA(image.Rect(0, 0, 640, 320))
	for y := 0; y < 320; y++ {
		for x := 0; x < 640; x++ {
			v := uint8(0)
			if x >= 320 {
				v = 255
			}
			src.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	f, err := os.Create(filepath.Join(dir, "bw.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	runTool(t, dir, "cwebp", "-quiet", "-q", "90", "bw.png", "-o", "bw.webp")
	p := testProfile(
		upload.VariantSpec{Name: "full", Width: 640, Height: 640, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 90},
		upload.VariantSpec{Name: "small", Width: 160, Height: 160, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 90},
	)
	res, err := Process(context.Background(), readFile(t, filepath.Join(dir, "bw.webp")), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Outputs {
		m := decodeOutput(t, o)
		b := m.Bounds()
		black := m.At(b.Dx()/4, b.Dy()/2)
		white := m.At(b.Dx()*3/4, b.Dy()/2)
		if !near(black, color.NRGBA{0, 0, 0, 255}, 3) || !near(white, color.NRGBA{255, 255, 255, 255}, 3) {
			t.Errorf("%s: black came out %v and white %v, want 0 and 255", o.File, color.NRGBAModel.Convert(black), color.NRGBAModel.Convert(white))
		}
	}
}
