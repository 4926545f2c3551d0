package imageproc

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"

	"uploader/internal/upload"
)

// TestPNGExifOrientation: a PNG's eXIf chunk carries the EXIF orientation
// (ImageMagick and libvips copy it from the JPEG they convert, and browsers
// and libvips turn the image by it). The stored pixels are the upright
// quadrants turned as a camera at orientation 6 stores them; the PNG is
// written by ImageMagick, which keeps the orientation in eXIf.
func TestPNGExifOrientation(t *testing.T) {
	dir := t.TempDir()
	stored := imaging.Rotate90(quadrants(64, 48))
	data := withEXIF(encodeJPEG(t, stored, 95), exifTIFF(binary.BigEndian, 6, ""))
	if err := os.WriteFile(filepath.Join(dir, "in.jpg"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, dir, "convert", "in.jpg", "out.png")
	png := readFile(t, filepath.Join(dir, "out.png"))
	if !bytes.Contains(png, []byte("eXIf")) {
		t.Fatal("ImageMagick wrote no eXIf chunk; the test cannot check anything")
	}
	p := testProfile(upload.VariantSpec{Name: "full", Width: 1000, Height: 1000, Fit: upload.FitInside, Formats: []string{"png"}, Quality: 95})
	res, err := Process(context.Background(), png, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 64 || res.Height != 48 {
		t.Fatalf("source is %dx%d after orientation, want 64x48 (the eXIf orientation 6 was ignored)", res.Width, res.Height)
	}
	m := decodeOutput(t, res.Outputs[0])
	if !near(m.At(4, 4), quadrantColor(true, true), 40) || !near(m.At(59, 43), quadrantColor(false, false), 40) {
		t.Errorf("corners %v %v, want red and white", color.NRGBAModel.Convert(m.At(4, 4)), color.NRGBAModel.Convert(m.At(59, 43)))
	}
}
