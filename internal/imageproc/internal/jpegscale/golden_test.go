package jpegscale

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// updateGolden rewrites testdata/golden.txt from the decoder as it is. It
// was run once on the decoder before the Huffman and inverse-DCT fast
// paths, so that every later change is held to its exact output.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden.txt")

// goldenPhotos are the real photographs the bench uses
// (scripts/ensure-bench-deps.sh installs them): a 2 MP baseline 4:2:0, a
// 12 MP progressive 4:2:2 and a 20 MP baseline 4:2:2.
var goldenPhotos = []string{
	"/usr/share/backgrounds/mate/nature/RainDrops.jpg",
	"/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg",
	"/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
}

// planesHash is the SHA-256 of an image's bounds and every sample of its
// planes, padding included.
func planesHash(t *testing.T, m image.Image) string {
	t.Helper()
	h := sha256.New()
	fmt.Fprintf(h, "%T %v\n", m, m.Bounds())
	switch m := m.(type) {
	case *image.YCbCr:
		fmt.Fprintf(h, "%d %d %v\n", m.YStride, m.CStride, m.SubsampleRatio)
		h.Write(m.Y)
		h.Write(m.Cb)
		h.Write(m.Cr)
	case *image.Gray:
		fmt.Fprintf(h, "%d\n", m.Stride)
		h.Write(m.Pix)
	case *image.RGBA:
		h.Write(m.Pix)
	case *image.CMYK:
		h.Write(m.Pix)
	default:
		t.Fatalf("unexpected %T", m)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestGolden decodes files cjpeg made (baseline and progressive; 4:4:4,
// 4:2:2, 4:2:0, 4:4:0 and gray; no restarts, a restart every MCU and every
// MCU row) and the three real photographs at every shift, and checks that
// the planes are byte for byte what the decoder gave before it was sped
// up (testdata/golden.txt).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.jpg")
	if err != nil || len(files) < 30 {
		t.Fatalf("testdata/golden: %d files, %v", len(files), err)
	}
	for _, p := range goldenPhotos {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v (scripts/ensure-bench-deps.sh installs it)", err)
			}
			t.Logf("skipping %s: %v", p, err)
			continue
		}
		files = append(files, p)
	}
	want := map[string]string{}
	if !*updateGolden {
		f, err := os.Open("testdata/golden.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), " "); ok {
				want[k] = v
			}
		}
	}
	var out []string
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for shift := uint(0); shift <= 3; shift++ {
			key := fmt.Sprintf("%s@%d", filepath.Base(p), shift)
			// image/jpeg refuses progressive subsampled files with
			// restart markers, and so does this fork: the refusal is
			// kept as it was too.
			m, err := Decode(bytes.NewReader(data), shift)
			var got string
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = planesHash(t, m)
			}
			out = append(out, key+" "+got)
			if *updateGolden {
				continue
			}
			if w, ok := want[key]; !ok {
				t.Errorf("%s: not in testdata/golden.txt", key)
			} else if w != got {
				t.Errorf("%s: got %s, before the speed-up %s", key, got, w)
			}
		}
	}
	if *updateGolden {
		slices.Sort(out)
		if err := os.WriteFile("testdata/golden.txt", []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkPhotoDecode decodes the real photographs at the shift Process
// picks for them for the photo profile's 2048-pixel variant (1/2 for the
// 12 and 20 MP ones, full size for the 2 MP one).
func BenchmarkPhotoDecode(b *testing.B) {
	for i, p := range goldenPhotos {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		shift := uint(1)
		if i == 0 {
			shift = 0
		}
		b.Run(fmt.Sprintf("%s@%d", strings.TrimSuffix(filepath.Base(p), ".jpg"), shift), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(data), shift); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
