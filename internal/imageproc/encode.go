package imageproc

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"

	"uploader/internal/imageproc/internal/jpegenc"
	"uploader/internal/upload"
)

// outputFormat resolves a spec format to a content type and file extension.
// "auto" means JPEG unless the source has a non-opaque pixel.
func outputFormat(format string, alpha bool) (ct, ext string) {
	switch format {
	case upload.FormatJPEG:
		return TypeJPEG, "jpg"
	case upload.FormatPNG:
		return TypePNG, "png"
	case upload.FormatWebP:
		return TypeWebP, "webp"
	case upload.FormatAVIF:
		return TypeAVIF, "avif"
	}
	if alpha {
		return TypePNG, "png"
	}
	return TypeJPEG, "jpg"
}

// trellisQualityStep is how much higher than the spec's quality the JPEG
// quantizers are set when trellis quantization is on, so that the SSIM
// delivered is at least rounding's at the spec's quality.
const trellisQualityStep = 1

// trellisMaxPixels is the largest output that is trellis-quantized; larger
// ones are rounded, as libjpeg does. Scored by SSIM on 35 wallpapers (see
// jpegenc's trellis.go), trellis one step up saves 3.5% of the bytes of a
// 150² crop and 1.6% of a 320-wide variant at no loss, but 0.5% at
// 1024 wide and nothing at 2048 (1.005× against rounding's 1.009× of
// libvips' bytes), where it would cost 40% more JPEG encoding time
// (55 ms for a 2048×1365).
const trellisMaxPixels = 400_000

// encode writes m in the given type. Encoding from pixels is also what
// strips metadata: none of these encoders writes EXIF, XMP, ICC or text.
func encode(m *image.NRGBA, ct string, quality int, alpha bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(m.Rect.Dx() * m.Rect.Dy() / 4)
	var err error
	switch ct {
	case TypeJPEG:
		src := m
		if alpha {
			src = flatten(m)
		}
		// Progressive with optimized Huffman tables; small outputs are
		// trellis-quantized one quality step up, for the same SSIM as
		// libjpeg's at the spec's quality in fewer bytes (cmd/imagebench
		// measures it against libvips).
		opt := jpegenc.Options{Quality: quality}
		if m.Rect.Dx()*m.Rect.Dy() <= trellisMaxPixels {
			opt = jpegenc.Options{Quality: min(100, quality+trellisQualityStep), Trellis: true}
		}
		err = jpegenc.EncodeWith(&buf, asRGBA(src), opt)
	case TypePNG:
		enc := png.Encoder{CompressionLevel: png.DefaultCompression}
		if alpha {
			err = enc.Encode(&buf, m)
		} else {
			// RGBA lets the encoder see the image is opaque and write RGB.
			err = enc.Encode(&buf, asRGBA(m))
		}
	case TypeWebP:
		if nativeWebP() {
			release := holdNativeWebP(m.Rect.Dx() * m.Rect.Dy())
			err = webp.Encode(&buf, m, webp.Options{Quality: quality, Method: webpMethod()})
			release()
		} else {
			err = webp.Encode(&buf, m, webp.Options{Quality: quality, Method: webpMethod()})
		}
	case TypeAVIF:
		// One AVIF encode at a time in the process: each holds about
		// 140 bytes a pixel of WebAssembly memory (Estimate counts one).
		avifSlot <- struct{}{}
		err = avif.Encode(&buf, m, avif.Options{Quality: avifQuality(quality), QualityAlpha: avifQuality(quality), Speed: avifSpeed})
		<-avifSlot
	default:
		return nil, fmt.Errorf("imageproc: cannot encode %q", ct)
	}
	if err != nil {
		return nil, fmt.Errorf("imageproc: encode %s: %w", ct, err)
	}
	return buf.Bytes(), nil
}

// nativeWebP reports whether github.com/gen2brain/webp found the system's
// libwebp (libwebp.so and libwebpdemux.so, loaded with dlopen when the
// process starts) rather than falling back to its WebAssembly build. The
// native library is the one cwebp and libvips call, with its SIMD code, and
// encodes in this process: no cwebp process, PAM file or second read of the
// pixels per WebP (cmd/imagebench measures both).
func nativeWebP() bool { return webp.Dynamic() == nil }

// webpMethod is libwebp's effort: its default 4 (what cwebp and libvips
// use) natively; 2 in WebAssembly, where 4 is five times slower (2.4 s
// against 0.45 s for 2048×1536) for files about 3% smaller.
func webpMethod() int {
	if nativeWebP() {
		return 4
	}
	return 2
}

var avifSlot = make(chan struct{}, 1)

// nativeWebPMemory is the C memory of the native libwebp encodes running
// now, and Go's soft memory limit as it was before the first of them.
var nativeWebPMemory nativeMemory

type nativeMemory struct {
	sync.Mutex
	inflight int64
	base     int64
}

// holdNativeWebP makes room for the native memory libwebp is about to
// allocate for a WebP of pixels pixels (costWebPNative a pixel: the ARGB
// picture it imports, the YUV picture and the encoder's analysis buffers,
// all malloc'd in C). Go's soft memory limit (the worker sets it to
// WORKER_MEMORY_MB) knows nothing of that memory, so the collector would
// let the heap fill the whole limit beside it: two jobs encoding at once
// peaked at 600 MB in a 512 MB worker (TestWorkerMemoryBudget). While
// encodes run, the limit is lowered by what they hold together, and when
// Go's own memory would not fit under the lowered limit, the collector
// runs and returns its free pages to the system before libwebp allocates.
// Encodes still run side by side: WebP is a third of a photo job's CPU,
// and one at a time would idle a core whenever two jobs reach it at once.
// The returned function gives the memory back to the limit.
func holdNativeWebP(pixels int) (release func()) {
	mallocOnce.Do(pinMallocThreshold)
	native := int64(pixels) * costWebPNative
	m := &nativeWebPMemory
	m.Lock()
	if m.inflight == 0 {
		m.base = debug.SetMemoryLimit(-1)
	}
	m.inflight += native
	lowered := m.lowered()
	m.Unlock()
	if lowered < math.MaxInt64 && goMemory() > lowered {
		debug.FreeOSMemory()
	}
	return func() {
		m.Lock()
		m.inflight -= native
		m.lowered()
		m.Unlock()
	}
}

// lowered sets Go's soft limit to its base less the native memory in
// flight (never below half the base) and returns it; with no limit set it
// leaves things as they are. The caller holds the lock.
func (m *nativeMemory) lowered() int64 {
	if m.base == math.MaxInt64 {
		return m.base
	}
	l := max(m.base-m.inflight, m.base/2)
	debug.SetMemoryLimit(l)
	return l
}

// pinMallocThreshold keeps the C allocator from holding on to what libwebp
// frees (malloc_linux.go); elsewhere it does nothing.
var (
	pinMallocThreshold = func() {}
	mallocOnce         sync.Once
)

// goMemory is what Go's soft memory limit counts: the memory the runtime
// has mapped less what it has returned to the system.
func goMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}

// avifSpeed is libaom's fastest setting: in WebAssembly even that costs
// more than the rest of a photo job (see README, "AVIF output").
const avifSpeed = 10

// avifQuality maps a profile's JPEG-like quality to libavif's scale, where
// the same number looks better: q82 for JPEG matches about 62 for AVIF.
func avifQuality(q int) int {
	return max(1, min(100, q-20))
}
