package imageproc

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gen2brain/webp"

	"uploader/internal/upload"
)

func needTool(t *testing.T, o *Optimizer, tool string) {
	t.Helper()
	if !slices.Contains(o.Tools(), tool) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not on PATH; scripts/ensure-deps.sh installs it", tool)
		}
		t.Skipf("%s is not on PATH", tool)
	}
}

// onlyTools narrows an optimizer to some of the tools it found, so each
// subtest shows what one tool does.
func onlyTools(o *Optimizer, tools ...string) *Optimizer {
	n := &Optimizer{timeout: o.timeout, paths: map[string]string{}}
	for _, t := range tools {
		if p, ok := o.paths[t]; ok {
			n.paths[t] = p
		}
	}
	return n
}

// graphic is a PNG-friendly image with flat areas and a transparent hole,
// which Go's PNG encoder compresses far from optimally.
func graphic(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 7 * 30), 255}
			if (x-w/2)*(x-w/2)+(y-h/2)*(y-h/2) < w*h/16 {
				c = color.NRGBA{0, 0, 0, 0}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func TestOptimizer(t *testing.T) {
	all := NewOptimizer(time.Minute) // generous: zopflipng is slow on a busy machine, and -race slows the rest
	t.Logf("tools found: %v", all.Tools())
	ctx := context.Background()
	jpg := encodeJPEG(t, photo(400, 300, 11), 85)
	pngData := encodePNG(t, graphic(200, 160))
	holed := photo(200, 160, 13)
	for i := 3; i < len(holed.Pix)/4; i += 4 {
		holed.Pix[i] = 0
	}
	pngPhoto := encodePNG(t, holed)
	var webpLossy bytes.Buffer
	if err := webp.Encode(&webpLossy, photo(200, 160, 1), webp.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		tool        string
		contentType string
		data        []byte
		lossy       bool
		exact       bool // pixels must be identical
		check       func(t *testing.T, out []byte)
	}{
		{"optipng", TypePNG, pngData, false, true, nil},
		{"zopflipng", TypePNG, pngData, false, true, nil},
		// advpng rewrites the pixel data unfiltered and recompresses it:
		// on Go's filtered PNGs it usually loses, and then the optimizer
		// must keep the input (checked below: never bigger, same pixels).
		{"advpng", TypePNG, pngData, false, true, nil},
		{"pngquant", TypePNG, pngPhoto, true, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.tool, func(t *testing.T) {
			needTool(t, all, tc.tool)
			o := onlyTools(all, tc.tool)
			out, err := o.Optimize(ctx, tc.contentType, tc.data, tc.lossy)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(out) > len(tc.data):
				t.Fatalf("%s: %d bytes -> %d, bigger", tc.tool, len(tc.data), len(out))
			case len(out) == len(tc.data) && tc.tool == "advpng":
				if !bytes.Equal(out, tc.data) {
					t.Fatalf("advpng: same size but other bytes kept; want the input back")
				}
			case len(out) >= len(tc.data):
				t.Fatalf("%s: %d bytes -> %d, want smaller", tc.tool, len(tc.data), len(out))
			}
			t.Logf("%s: %d -> %d bytes", tc.tool, len(tc.data), len(out))
			ref, _ := decodeAny(tc.contentType, tc.data)
			if !sameImage(tc.contentType, ref, out, tc.exact) {
				t.Errorf("%s changed the image", tc.tool)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}

	t.Run("optipng after pngquant", func(t *testing.T) {
		needTool(t, all, "pngquant")
		needTool(t, all, "optipng")
		quant, err := onlyTools(all, "pngquant").Optimize(ctx, TypePNG, pngPhoto, true)
		if err != nil {
			t.Fatal(err)
		}
		both, err := onlyTools(all, "pngquant", "optipng").Optimize(ctx, TypePNG, pngPhoto, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pngquant %d bytes, pngquant+optipng %d bytes", len(quant), len(both))
		if len(both) >= len(quant) {
			t.Errorf("optipng did not improve on pngquant's output (%d >= %d)", len(both), len(quant))
		}
	})
	t.Run("pngquant only when lossy", func(t *testing.T) {
		needTool(t, all, "pngquant")
		o := onlyTools(all, "pngquant")
		out, err := o.Optimize(ctx, TypePNG, pngData, false)
		if err != nil || !bytes.Equal(out, pngData) {
			t.Errorf("pngquant ran without permission for lossy output (err %v)", err)
		}
	})
	t.Run("only PNG is optimized", func(t *testing.T) {
		for _, in := range []struct {
			contentType string
			data        []byte
		}{{TypeJPEG, jpg}, {TypeGIF, encodeGIF(t, graphic(200, 160))}} {
			if out, err := all.Optimize(ctx, in.contentType, in.data, true); err != nil || !bytes.Equal(out, in.data) {
				t.Errorf("%s was changed (err %v)", in.contentType, err)
			}
		}
	})
	t.Run("lossy webp is left alone", func(t *testing.T) {
		out, err := all.Optimize(ctx, TypeWebP, webpLossy.Bytes(), true)
		if err != nil || !bytes.Equal(out, webpLossy.Bytes()) {
			t.Errorf("lossy WebP was re-encoded (err %v)", err)
		}
	})
	t.Run("no tools", func(t *testing.T) {
		out, err := (&Optimizer{paths: map[string]string{}}).Optimize(ctx, TypeJPEG, jpg, true)
		if err != nil || !bytes.Equal(out, jpg) {
			t.Errorf("Optimize without tools changed the data (err %v)", err)
		}
		var nilOpt *Optimizer
		if out, err := nilOpt.Optimize(ctx, TypeJPEG, jpg, true); err != nil || !bytes.Equal(out, jpg) {
			t.Errorf("nil Optimizer changed the data (err %v)", err)
		}
	})
}

func isProgressive(jpg []byte) bool {
	for p := 2; p+4 <= len(jpg) && jpg[p] == 0xFF; p += 2 + (int(jpg[p+2])<<8 | int(jpg[p+3])) {
		if jpg[p+1] == 0xC2 {
			return true
		}
		if jpg[p+1] == 0xDA {
			return false
		}
	}
	return false
}

// fakeTool puts an executable script named like a real optimizer in a
// temporary PATH, to see how Optimize treats a tool that misbehaves.
func fakeTool(t *testing.T, name, script string) *Optimizer {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Only the fake: the real tools also on PATH (advpng, zopflipng) would
	// legitimately shrink the input and hide what the fake did.
	return onlyTools(NewOptimizer(500*time.Millisecond), name)
}

func TestOptimizerDistrustsTools(t *testing.T) {
	ctx := context.Background()
	pngData := encodePNG(t, graphic(100, 80))
	smaller := encodePNG(t, graphic(50, 40))   // valid, smaller, wrong size
	altered := encodePNG(t, photo(100, 80, 1)) // right size, other pixels
	if len(altered) >= len(pngData) {
		altered = encodePNG(t, solid(100, 80, color.NRGBA{1, 2, 3, 255}))
	}
	tests := []struct {
		name   string
		script string
	}{
		{"garbage output", `printf 'tiny' > "$6"`},
		{"wrong dimensions", `cp "$SMALLER" "$6"`},
		{"different pixels", `cp "$ALTERED" "$6"`},
		{"fails", `exit 3`},
		// The hanging tool records its pid, then sleeps for an hour: if the
		// timeout did not kill it, Optimize would not return before the
		// test binary's own deadline.
		{"hangs past the timeout", `echo $$ > "$PIDFILE"; exec sleep 3600`},
	}
	dir := t.TempDir()
	sp, ap := filepath.Join(dir, "s.png"), filepath.Join(dir, "a.png")
	if err := os.WriteFile(sp, smaller, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ap, altered, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SMALLER", sp)
	t.Setenv("ALTERED", ap)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// optipng is called as: -quiet -o2 -strip all -out OUT IN, so
			// the output path is $6.
			o := fakeTool(t, "optipng", tc.script)
			pidFile := filepath.Join(t.TempDir(), "pid")
			t.Setenv("PIDFILE", pidFile)
			out, err := o.Optimize(ctx, TypePNG, pngData, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, pngData) {
				t.Errorf("kept the tool's output (%d bytes) over the %d-byte input", len(out), len(pngData))
			}
			if b, err := os.ReadFile(pidFile); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				if pid > 0 && syscall.Kill(pid, 0) == nil {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("the hanging tool (pid %d) is still running after Optimize returned", pid)
				}
			}
		})
	}
}

// TestProcessWithOptimizer runs the photo profile with every tool found and
// checks the optimizer only ever shrinks outputs and records the size before.
func TestProcessWithOptimizer(t *testing.T) {
	o := NewOptimizer(20 * time.Second)
	if len(o.Tools()) == 0 {
		t.Skip("no optimizer tools on PATH")
	}
	p := testProfile(
		upload.VariantSpec{Name: "m", Width: 400, Height: 400, Fit: upload.FitInside, Formats: []string{"auto", "png", "webp"}, Quality: 82},
		upload.VariantSpec{Name: "s", Width: 64, Height: 64, Fit: upload.FitCover, Formats: []string{"auto"}, Quality: 82},
	)
	p.AllowLossy = true
	res, err := Process(context.Background(), encodeJPEG(t, photo(800, 600, 12), 90), p, Options{Optimizer: o})
	if err != nil {
		t.Fatal(err)
	}
	improved := 0
	for _, out := range res.Outputs {
		if int64(len(out.Data)) > out.OriginalBytes {
			t.Errorf("%s grew from %d to %d bytes", out.File, out.OriginalBytes, len(out.Data))
		}
		if int64(len(out.Data)) < out.OriginalBytes {
			improved++
		}
		decodeOutput(t, out)
		t.Logf("%s: %d -> %d bytes", out.File, out.OriginalBytes, len(out.Data))
	}
	if slices.Contains(o.Tools(), "optipng") && improved == 0 {
		t.Error("optipng is present but no output got smaller")
	}
	// What jpegtran would have done, the encoder does itself.
	if !isProgressive(res.Outputs[0].Data) {
		t.Errorf("JPEG output %s is not progressive", res.Outputs[0].File)
	}
}

// TestNativeWebP checks that the system's libwebp, when github.com/gen2brain/webp
// loads it, encodes in this process exactly what cwebp writes with the same
// settings: moving the encode in-process changed no byte of the outputs.
func TestNativeWebP(t *testing.T) {
	if err := webp.Dynamic(); err != nil {
		t.Skipf("libwebp is not loaded (package libwebp-dev has libwebp.so): %v", err)
	}
	o := NewOptimizer(20 * time.Second)
	needTool(t, o, "cwebp")
	for _, alpha := range []bool{false, true} {
		t.Run(fmt.Sprintf("alpha=%v", alpha), func(t *testing.T) {
			src := photo(300, 200, 3)
			if alpha {
				src.SetNRGBA(150, 100, color.NRGBA{0, 0, 0, 0})
			}
			got, err := encode(src, TypeWebP, 82, alpha)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := o.encodeWebP(context.Background(), src, 82, alpha)
			if !ok {
				t.Fatal("cwebp failed")
			}
			if !bytes.Equal(got, want) {
				t.Errorf("in-process WebP is %d bytes, cwebp's %d, and they differ", len(got), len(want))
			}
		})
	}
}

// TestCWebPEncoder checks the WebP path keeps alpha and size and writes
// no metadata: native libwebp in this process when it is loaded, else
// cwebp.
func TestCWebPEncoder(t *testing.T) {
	o := NewOptimizer(20 * time.Second)
	needTool(t, o, "cwebp")
	holed := photo(120, 90, 14)
	holed.SetNRGBA(60, 45, color.NRGBA{0, 0, 0, 0})
	p := testProfile(upload.VariantSpec{Name: "v", Width: 100, Height: 100, Fit: upload.FitInside, Formats: []string{"webp"}, Quality: 85})
	for _, alpha := range []bool{false, true} {
		t.Run(fmt.Sprintf("alpha=%v", alpha), func(t *testing.T) {
			src := photo(120, 90, 14)
			if alpha {
				src = holed
			}
			res, err := Process(context.Background(), encodePNG(t, src), p, Options{Optimizer: onlyTools(o, "cwebp")})
			if err != nil {
				t.Fatal(err)
			}
			out := res.Outputs[0]
			m := decodeOutput(t, out)
			if out.Width != 100 || out.Height != 75 {
				t.Errorf("size %dx%d, want 100x75", out.Width, out.Height)
			}
			_, _, _, a := m.At(50, 37).RGBA()
			if got := a < 0xFFFF; got != alpha {
				t.Errorf("transparent at the hole = %v, want %v", got, alpha)
			}
			if bytes.Contains(out.Data, []byte("EXIF")) || bytes.Contains(out.Data, []byte("ICCP")) {
				t.Error("cwebp output carries metadata")
			}
		})
	}
}
