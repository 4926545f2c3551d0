package imageproc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"uploader/internal/upload"
)

// FuzzProcess feeds arbitrary bytes to Process. It must never panic, and
// every failure must be one of the refusals a person can be shown, never an
// internal error. The limits are small so the fuzzer spends its time on
// parsing, not on encoding large images.
func FuzzProcess(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	p := testProfile(
		upload.VariantSpec{Name: "a", Width: 32, Height: 32, Fit: upload.FitInside, Formats: []string{"auto"}, Quality: 70},
		upload.VariantSpec{Name: "b", Width: 8, Height: 8, Fit: upload.FitCover, Formats: []string{"png"}, Quality: 70},
	)
	p.MaxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Process(context.Background(), data, p, Options{MaxGIFFramePixels: 1 << 22})
		if err != nil {
			var ue *upload.Error
			if !errors.As(err, &ue) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			switch ue.Code {
			case upload.EUNSUPPORTED, upload.ECORRUPT, upload.ETOOMANYPX:
			default:
				t.Fatalf("unexpected code %q: %v", ue.Code, err)
			}
			return
		}
		if res.Width <= 0 || res.Height <= 0 || int64(res.Width)*int64(res.Height) > p.MaxPixels {
			t.Fatalf("accepted a %dx%d image", res.Width, res.Height)
		}
		for _, o := range res.Outputs {
			if len(o.Data) == 0 || o.Width <= 0 || o.Height <= 0 || o.Width > 32 || o.Height > 32 {
				t.Fatalf("bad output %s %dx%d (%d bytes)", o.File, o.Width, o.Height, len(o.Data))
			}
		}
	})
}
