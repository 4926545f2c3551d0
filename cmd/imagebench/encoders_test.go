package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"uploader/internal/imageproc"
)

// TestEncodersAlone runs the encoder-alone comparison on two of the
// wallpapers where mozjpeg's trellis λ lost most SSIM, and checks what its
// table says: both sides' files were made and scored at every size, and
// ours stay within 0.002 of libvips' SSIM there.
func TestEncodersAlone(t *testing.T) {
	for _, tool := range []string{"vipsthumbnail", "vips"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (libvips-tools)", tool)
			}
			t.Skipf("%s is missing (apt-get install libvips-tools)", tool)
		}
	}
	photos := []string{"/usr/share/backgrounds/mate/nature/Wood.jpg", "/usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg"}
	for _, p := range photos {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v (scripts/ensure-deps.sh installs the wallpapers)", err)
			}
			t.Skip(err)
		}
	}
	var out bytes.Buffer
	if err := encodersAlone(context.Background(), photos, t.TempDir(), imageproc.Options{}, &out, t.Logf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, size := range []string{"w2048", "w1024", "w320", "thumb150"} {
		var row string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, size+" ") {
				row = l
			}
		}
		f := strings.Fields(row)
		if len(f) < 3 {
			t.Errorf("no row for %s", size)
			continue
		}
		if f[1] != "2" {
			t.Errorf("%s: %s photos scored, want 2", size, f[1])
		}
		if f[2] != "0" {
			t.Errorf("%s: %s outputs more than 0.002 below libvips", size, f[2])
		}
	}
}
