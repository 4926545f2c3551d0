package jpegscale

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestProgressiveMatchesStdlib decodes progressive JPEGs that jpegtran made
// (4:2:0 and gray; its default scan script uses spectral selection and
// successive approximation) and checks the 16-bit coefficient store gives
// exactly the pixels of image/jpeg, which keeps them in 32 bits.
func TestProgressiveMatchesStdlib(t *testing.T) {
	jpegtran, err := exec.LookPath("jpegtran")
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("jpegtran is required with CI=true: %v", err)
		}
		t.Skip("jpegtran is not on PATH")
	}
	for _, tc := range []struct {
		name string
		gray bool
	}{
		{"420", false},
		{"gray", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.jpg")
			if err := os.WriteFile(in, testJPEG(t, 203, 157, tc.gray), 0o644); err != nil {
				t.Fatal(err)
			}
			prog, err := exec.Command(jpegtran, "-progressive", in).Output()
			if err != nil {
				t.Fatal(err)
			}
			want, err := jpeg.Decode(bytes.NewReader(prog))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(bytes.NewReader(prog), 0)
			if err != nil {
				t.Fatal(err)
			}
			var a, b []byte
			switch w := want.(type) {
			case *image.YCbCr:
				g := got.(*image.YCbCr)
				a = append(append(append(a, w.Y...), w.Cb...), w.Cr...)
				b = append(append(append(b, g.Y...), g.Cb...), g.Cr...)
			case *image.Gray:
				a, b = w.Pix, got.(*image.Gray).Pix
			}
			if !bytes.Equal(a, b) {
				t.Fatal("progressive decode differs from image/jpeg")
			}
		})
	}
}
