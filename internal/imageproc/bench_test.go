package imageproc

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"uploader/internal/imageproc/internal/jpegenc"
	"uploader/internal/upload"
)

// photo12MP is a 4000×3000 JPEG at quality 90, made once per test binary.
var photo12MP = sync.OnceValue(func() []byte {
	return encodeJPEG(&testing.B{}, photo(4000, 3000, 42), 90)
})

// BenchmarkProcessPhoto12MP is the number to compare with libvips: the photo
// profile (4 sizes × JPEG and WebP) on a 12 MP JPEG, pure Go.
func BenchmarkProcessPhoto12MP(b *testing.B) {
	data := photo12MP()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(context.Background(), data, photoProfile, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessPhoto12MPOptimized adds the optimizer tools found on PATH.
func BenchmarkProcessPhoto12MPOptimized(b *testing.B) {
	o := NewOptimizer(30 * time.Second)
	if len(o.Tools()) == 0 {
		b.Skip("no optimizer tools on PATH")
	}
	data := photo12MP()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(context.Background(), data, photoProfile, Options{Optimizer: o}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode is decoding plus the one conversion to NRGBA.
func BenchmarkDecode(b *testing.B) {
	data := photo12MP()
	ct, cfg, err := Limits{}.Check(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		img, err := decode(ct, data, cfg, 0)
		if err != nil {
			b.Fatal(err)
		}
		toNRGBA(img)
	}
}

// BenchmarkDecodeScaled is the JPEG decode at each reduction the pipeline
// can ask for (1/2 is what a 24 MP photo gets for a 2048 variant).
func BenchmarkDecodeScaled(b *testing.B) {
	data := photo12MP()
	cfg := image.Config{Width: 4000, Height: 3000}
	for _, shift := range []uint{0, 1, 2, 3} {
		b.Run(fmt.Sprintf("1/%d", 1<<shift), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(TypeJPEG, data, cfg, shift); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResizeYCbCr is the first resize straight from the decoded
// planes (12 MP to 2048×1536), against converting to RGBA first and
// resizing that, which is what it replaced.
func BenchmarkResizeYCbCr(b *testing.B) {
	img, err := decode(TypeJPEG, photo12MP(), image.Config{Width: 4000, Height: 3000}, 0)
	if err != nil {
		b.Fatal(err)
	}
	ycc := img.(*image.YCbCr)
	b.Run("planes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resizeYCbCr(ycc, 2048, 1536)
		}
	})
	b.Run("rgba", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src, _ := toNRGBA(ycc)
			resizeOpaque(src, 2048, 1536)
		}
	})
}

// BenchmarkResize compares the cascade for the photo profile's four sizes
// with resizing each directly from the source.
func BenchmarkResize(b *testing.B) {
	img, _ := decode(TypeJPEG, photo12MP(), image.Config{Width: 4000, Height: 3000}, 0)
	src, _ := toNRGBA(img)
	b.Run("cascade", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := &cascade{srcW: 4000, opaque: true, frames: []*image.NRGBA{src}}
			for _, spec := range photoProfile.Variants {
				if _, err := c.render(context.Background(), planGeometry(spec, 4000, 3000)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, spec := range photoProfile.Variants {
				g := planGeometry(spec, 4000, 3000)
				if spec.Fit == "cover" {
					imaging.Fill(src, g.outW, g.outH, imaging.Center, imaging.CatmullRom)
				} else {
					imaging.Resize(src, g.outW, g.outH, imaging.CatmullRom)
				}
			}
		}
	})
}

// BenchmarkEncode measures each encoder on a 2048-pixel-wide variant.
func BenchmarkEncode(b *testing.B) {
	m := imaging.Resize(photo(4000, 3000, 42), 2048, 1536, imaging.CatmullRom)
	for _, ct := range []string{TypeJPEG, TypeWebP, TypePNG} {
		b.Run(kindOf(ct), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encode(m, ct, 82, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchPhotos are the real photographs cmd/imagebench compares with
// libvips (scripts/ensure-bench-deps.sh installs them); the benchmarks
// below skip the ones that are missing.
var benchPhotos = []struct{ name, path string }{
	{"2MP", "/usr/share/backgrounds/mate/nature/RainDrops.jpg"},
	{"12MP", "/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg"},
	{"20MP", "/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"},
}

// BenchmarkPhotoStages splits the photo job on real photographs into the
// stages Process runs, so that a change to one shows where it went: the
// decode at the reduction Process picks, the first resize from the
// planes, the cascade for the other three sizes, and the JPEG encode of
// all four (rounding and trellis). The WebP encode is cwebp's, a separate
// process, and not here.
func BenchmarkPhotoStages(b *testing.B) {
	for _, ph := range benchPhotos {
		data, err := os.ReadFile(ph.path)
		if err != nil {
			continue
		}
		ct, cfg, err := Limits{}.Check(data)
		if err != nil {
			b.Fatal(err)
		}
		top := planGeometry(photoProfile.Variants[0], cfg.Width, cfg.Height)
		shift := loadShift(ct, top.full)
		img, err := decode(ct, data, cfg, shift)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(ph.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := decode(ct, data, cfg, shift); err != nil {
					b.Fatal(err)
				}
			}
		})
		src, _ := firstFrame(img, top, cfg.Width, cfg.Height, 1)
		b.Run(ph.name+"/first-resize", func(b *testing.B) {
			for b.Loop() {
				firstFrame(img, top, cfg.Width, cfg.Height, 1)
			}
		})
		var frames []*image.NRGBA
		render := func() {
			c := &cascade{srcW: cfg.Width, opaque: true, frames: []*image.NRGBA{src}}
			frames = frames[:0]
			for _, spec := range photoProfile.Variants {
				m, err := c.render(context.Background(), planGeometry(spec, cfg.Width, cfg.Height))
				if err != nil {
					b.Fatal(err)
				}
				frames = append(frames, m)
			}
		}
		b.Run(ph.name+"/cascade", func(b *testing.B) {
			for b.Loop() {
				render()
			}
		})
		render()
		for _, tr := range []bool{false, true} {
			name := "/jpeg-rounding"
			if tr {
				name = "/jpeg-trellis"
			}
			b.Run(ph.name+name, func(b *testing.B) {
				var n int
				for b.Loop() {
					n = 0
					for _, m := range frames {
						var buf bytes.Buffer
						if err := jpegenc.EncodeWith(&buf, asRGBA(m), jpegenc.Options{Quality: 82, Trellis: tr}); err != nil {
							b.Fatal(err)
						}
						n += buf.Len()
					}
				}
				b.ReportMetric(float64(n), "bytes")
			})
		}
	}
}

// BenchmarkProcessPhoto12MPWithAVIF is the built-in photo job with "avif"
// added to every variant: next to BenchmarkProcessPhoto12MP it gives the
// cost of AVIF output (README, "AVIF output").
func BenchmarkProcessPhoto12MPWithAVIF(b *testing.B) {
	p := photoProfile
	p.Variants = slices.Clone(p.Variants)
	for i := range p.Variants {
		p.Variants[i].Formats = append(slices.Clone(p.Variants[i].Formats), upload.FormatAVIF)
	}
	data := photo12MP()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Process(context.Background(), data, p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHEIF decodes the 12 MP photo after vips converted it to
// HEIC and to AVIF (the container read, the WebAssembly decoder and the
// colour step; no resizing).
func BenchmarkDecodeHEIF(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jpg"), photo12MP(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, ext := range []string{"heic", "avif"} {
		data := convertFile(b, "vips", dir, "in.jpg", ext)
		b.Run(ext, func(b *testing.B) {
			ct, cfg, err := Limits{}.Check(data)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := decode(ct, data, cfg, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
