package imageproc

import (
	"encoding/binary"
	"fmt"
	"slices"

	"uploader/internal/upload"
)

// Decoder costs in bytes per pixel, the basis of Estimate. They are what
// each decoder holds at its peak for a pixel of the image it decodes,
// measured as peak RSS over the resting process with Go's soft limit set
// to the estimate (TestMemoryEstimateHolds re-measures them on files made
// by cjpeg, vips and ImageMagick and fails if an estimate falls short).
// Whole jobs (photo profile) measured that way in WebAssembly: a 12 MP
// (4000×3000) HEIC 261 MB above rest, 10-bit 322 MB, AVIF 737 MB; a
// 7000×7000 progressive 4:4:4 JPEG 352 MB; a 6000×6000 16-bit PNG 423 MB.
//
//	decoder                                   holds per pixel
//	JPEG baseline (jpegscale), per component  1 at the decoded scale (4:2:0: 1.5, 4:4:4: 3, CMYK: 4)
//	JPEG progressive, in addition             2 per component sample at full size (4:2:0: 3, 4:4:4: 6, CMYK: 8)
//	PNG (image/png)                           1 gray/palette, 2 gray16, 4 RGB(A)/gray+alpha, 8 at 16 bits
//	PNG interlaced, in addition               half the above (the largest pass before it is merged)
//	GIF                                       1 (palette indices) + 4 for a frame smaller than the screen
//	WebP lossy / lossless (x/image/webp)      1.5 (2.5 with alpha) / 4
//	WebP output (libwebp, any of its three)   11 per pixel of the largest WebP, ×1.25 for a second one
//	                                          (WebAssembly's figure; native libwebp in the process
//	                                          holds 13.1 a pixel in C memory (the ARGB picture it imports,
//	                                          the YUV picture, the analysis buffers: 52 MB at 2048×2048),
//	                                          which the ×1.25 covers: its encodes run one at a time, with
//	                                          Go's soft limit lowered by 14 a pixel meanwhile; see encode.go)
//	HEIC (libheif+libde265 in WebAssembly)    18: the module's linear memory holds the stream, the
//	                                          decoded planes and a copy; it grows by doubling;
//	                                          24 above 8 bits; both plus 32 MB (the memory's floor)
//	AVIF output (libaom encoder, WebAssembly) 140 per pixel of the largest AVIF variant (2048×1536:
//	                                          +430 MB, 3.2 s); encodes run one at a time
//	AVIF (libavif+libaom in WebAssembly)      56 at 8 bits, 100 above:
//	                                          libaom's frame buffers are 16-bit with borders, then an
//	                                          RGBA copy, in a linear memory that grows by doubling
//
// A job's estimate is its worst phase (decoding; making the first frame;
// resizing and encoding), not their sum: buffers of one phase are garbage
// in the next, and the worker's soft memory limit makes the collector take
// them before the process grows.
//
// After decoding, the pipeline converts to 8-bit RGBA (4 bytes a pixel,
// skipped for a JPEG or WebP that is resampled from its YCbCr planes and for
// RGBA PNGs, converted in place at 16 bits), turns it (another 4 when the
// orientation is not 1) and resizes (a third more for the halving cascade,
// and the resampler's intermediate of the target width by the source
// height: 29 MB for a 2048-wide variant of a 3500-row frame).
const (
	costProgressive = 2  // bytes per coefficient sample (block16)
	costHEIC        = 18 // per pixel, WebAssembly libheif
	costHEICDeep    = 24 // above 8 bits: libheif decodes to 16-bit planes, then to 8
	costAVIF8       = 56
	costAVIFDeep    = 100
	costAVIFEncode  = 140 // per output pixel: libaom's encoder in WebAssembly, one encode at a time
	costRGBA        = 4
	costWebPEncode  = 11       // per pixel of the WebP being encoded (WebAssembly libwebp: 2048×1536, 34 MB)
	costWebPNative  = 14       // per pixel, system libwebp's C memory (measured 13.1 at 1024², 2048×1365, 2048²), one encode at a time
	costWasmFloor   = 32 << 20 // see Estimate
	costFixed       = 40 << 20 // the JPEG and PNG encoders, buffers, the outputs
	costInputCopies = 2        // the file itself, and the original copied to S3 from it
)

// MemoryEstimate is what Estimate found.
type MemoryEstimate struct {
	Bytes int64
	// What describes the file in words for a refusal: "a 7000×7000
	// progressive JPEG (4:4:4)".
	What string
}

// Estimate returns the peak memory Process needs for data under profile
// p, from the headers alone: no pixel buffer is allocated. It runs the
// same checks as Process first (type, pixel limits) and returns their
// errors.
func Estimate(data []byte, p upload.Profile, opt Options) (MemoryEstimate, error) {
	ct, cfg, err := opt.limits(p).Check(data)
	if err != nil {
		return MemoryEstimate{}, err
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	n := w * h
	o := orientation(ct, data)
	ow, oh := cfg.Width, cfg.Height
	if o >= 5 {
		ow, oh = oh, ow
	}
	var top geometry
	for _, spec := range p.Variants {
		if g := planGeometry(spec, ow, oh); g.full > top.full {
			top = g
		}
	}
	topPixels := int64(top.outW) * int64(top.outH)
	shift := loadShift(ct, top.full)
	scaled := ((w + 1<<shift - 1) >> shift) * ((h + 1<<shift - 1) >> shift)

	var decoded float64 // bytes per decoded pixel
	var fullExtra int64 // bytes proportional to the full-size image, beyond decoded
	convert := true     // whether a full-frame RGBA copy is made
	what := fmt.Sprintf("a %d×%d %s image", w, h, kindOf(ct))
	switch ct {
	case TypeJPEG:
		j := jpegSOF(data)
		decoded = j.sampleFraction()
		if j.progressive {
			fullExtra = int64(float64(n) * costProgressive * j.sampleFraction())
			what = fmt.Sprintf("a %d×%d progressive JPEG (%s)", w, h, j.sampling())
		} else {
			what = fmt.Sprintf("a %d×%d JPEG (%s)", w, h, j.sampling())
		}
		// A colour JPEG that the largest variant shrinks is resampled
		// from its planes (firstFrame); the frame is then topPixels.
		convert = !(j.components == 3 && top.full < 1)
	case TypePNG:
		depth, colour, interlaced := pngIHDR(data)
		switch {
		case colour == 3 || colour == 0 && depth <= 8:
			decoded = 1
		case colour == 0:
			decoded = 2
		case depth == 16:
			decoded = 8
			convert = false // converted in place (toNRGBA)
		default:
			decoded = 4
			convert = colour != 6 // NRGBA is used as it is
		}
		if interlaced {
			decoded *= 1.5
			what = fmt.Sprintf("a %d×%d interlaced %d-bit PNG", w, h, depth)
		} else {
			what = fmt.Sprintf("a %d×%d %d-bit PNG", w, h, depth)
		}
	case TypeGIF:
		decoded = 1 + costRGBA
	case TypeWebP:
		chunk := ""
		if len(data) >= 16 {
			chunk = string(data[12:16])
		}
		alpha := chunk == "VP8X" && len(data) >= 21 && data[20]&0x10 != 0
		switch {
		case chunk == "VP8L": // lossless: NRGBA, used as it is
			decoded, convert = 4, false
		case alpha: // lossy with alpha: NYCbCrA, converted whole
			decoded = 2.5
		default: // lossy: YCbCr, resampled from its planes when shrunk
			decoded, convert = 1.5, top.full >= 1
		}
	case TypeHEIC, TypeHEIF, TypeAVIF:
		info, _ := parseHEIF(data)
		decoded = costHEIC
		if info.depth > 8 {
			decoded = costHEICDeep
		}
		if info.codec == "av01" || info.tileCodec == "av01" {
			decoded = costAVIF8
			if info.depth > 8 {
				decoded = costAVIFDeep
			}
		}
	}
	// The first full frame the cascade works on: the largest variant's
	// size when it is resampled from YCbCr planes, else the decoded size.
	// It is a new buffer unless the decoded image already is 8-bit RGBA
	// (or was narrowed in place).
	if convertsColour(ct, data) {
		// Converted to sRGB as a full-size NRGBA copy (colour.go).
		convert = true
	}
	planes := (ct == TypeJPEG || ct == TypeWebP && decoded == 1.5) && !convert
	frame := scaled * costRGBA
	if planes {
		frame = topPixels * costRGBA
	}
	newFrame := convert || planes
	dec := int64(decoded * float64(scaled))
	if ct == TypeHEIC || ct == TypeHEIF || ct == TypeAVIF {
		// A WebAssembly memory starts at a size of its own and grows by
		// doubling, copying: small images cost more per pixel (a 1.7 MP
		// HEIC job measured 84 MB, 18 bytes a pixel alone says 31).
		dec += costWasmFloor
	}
	// The separable resampler's intermediate: the target width by the
	// height of the frame it reads: the decoded height when it reads YCbCr
	// planes, else at most twice the target's (the cascade halves first).
	sh := (h + 1<<shift - 1) >> shift
	if o >= 5 {
		sh = (w + 1<<shift - 1) >> shift
	}
	if !planes {
		sh = min(sh, 2*int64(top.outH)+1)
	}
	inter := int64(top.outW) * sh * costRGBA
	// Encoders: the largest WebP (libwebp in the process, natively or in
	// WebAssembly, or a cwebp process beside the worker: either way the
	// dyno's memory) and one at a
	// quarter of its size at once, and the one AVIF encode at a time.
	var webpPixels, avifPixels int64
	for _, spec := range p.Variants {
		g := planGeometry(spec, ow, oh)
		if slices.Contains(spec.Formats, upload.FormatWebP) {
			webpPixels = max(webpPixels, int64(g.outW)*int64(g.outH))
		}
		if slices.Contains(spec.Formats, upload.FormatAVIF) {
			avifPixels = max(avifPixels, int64(g.outW)*int64(g.outH))
		}
	}
	encoders := webpPixels*costWebPEncode*5/4 + avifPixels*costAVIFEncode

	// The job's peak is that of its worst phase. Decoding holds the
	// decoder's buffers; making the first frame holds the decoded image,
	// the frame and the resampler's intermediate; encoding holds the first
	// frame (the decoded buffer itself when the frame is a view of it), a
	// turned copy, the smaller sizes and the encoders.
	keep := frame
	if !newFrame {
		keep = max(dec, frame)
	}
	turned := int64(0)
	if o != 1 {
		turned = frame
	}
	phases := []int64{
		fullExtra + dec,
		dec + frame + inter,
		keep + turned + frame/3 + inter + encoders,
	}
	// A tenth on top for what the phases leave out (reader buffers,
	// allocator rounding): without it the 7000×7000 progressive JPEG and a
	// 10-bit 12 MP HEIC ran 1-2% over their phase.
	total := int64(len(data))*costInputCopies + costFixed + slices.Max(phases)*11/10
	return MemoryEstimate{Bytes: total, What: what}, nil
}

// jpegInfo is what a JPEG's SOF segment says.
type jpegInfo struct {
	progressive bool
	components  int
	h, v        [4]int // sampling factors
}

// sampleFraction is the number of samples per pixel over all components:
// 1.5 at 4:2:0, 3 at 4:4:4, 1 for gray, 4 for CMYK without subsampling.
func (j jpegInfo) sampleFraction() float64 {
	if j.components == 0 {
		return 4 // unknown: the worst case the decoder accepts
	}
	hmax, vmax := 1, 1
	for i := range j.components {
		hmax, vmax = max(hmax, j.h[i]), max(vmax, j.v[i])
	}
	var f float64
	for i := range j.components {
		f += float64(j.h[i]*j.v[i]) / float64(hmax*vmax)
	}
	return f
}

func (j jpegInfo) sampling() string {
	switch {
	case j.components == 1:
		return "grayscale"
	case j.components == 4:
		return "CMYK"
	case j.components == 3 && j.h[0] == j.h[1] && j.v[0] == j.v[1]:
		return "4:4:4"
	case j.components == 3 && j.h[0] == 2*j.h[1] && j.v[0] == 2*j.v[1]:
		return "4:2:0"
	case j.components == 3 && j.h[0] == 2*j.h[1] && j.v[0] == j.v[1]:
		return "4:2:2"
	}
	return fmt.Sprintf("%d components", j.components)
}

// jpegSOF finds the SOF segment. A file it cannot read gives the zero
// value, which sampleFraction takes as the worst case.
func jpegSOF(data []byte) jpegInfo {
	var j jpegInfo
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xFF {
			return j
		}
		m := data[p+1]
		if m == 0xFF {
			p++
			continue
		}
		if m == 0xD8 || m == 0x01 || m >= 0xD0 && m <= 0xD7 {
			p += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			seg := data[p+4 : min(len(data), p+2+n)]
			if len(seg) < 6 {
				return j
			}
			j.progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE
			j.components = min(int(seg[5]), 4)
			for i := range j.components {
				if 6+3*i+1 < len(seg) {
					j.h[i], j.v[i] = max(1, int(seg[7+3*i]>>4)), max(1, int(seg[7+3*i]&15))
				}
			}
			return j
		}
		if m == 0xDA || m == 0xD9 {
			return j
		}
		p += 2 + n
	}
	return j
}

// pngIHDR reads bit depth, colour type and interlace from IHDR.
func pngIHDR(data []byte) (depth, colour int, interlaced bool) {
	if len(data) < 29 || string(data[12:16]) != "IHDR" {
		return 16, 6, true // the worst case
	}
	return int(data[24]), int(data[25]), data[28] == 1
}

// TooLargeForMemory is the refusal of a file whose estimate exceeds the
// whole budget of a worker: it could never be processed there.
func TooLargeForMemory(e MemoryEstimate, budget int64) error {
	return upload.Errorf(upload.ETOOMANYPX,
		"This file is %s; processing it would need about %d MB of memory, more than the %d MB this service allows for one image. Please upload a smaller image (fewer pixels).",
		e.What, e.Bytes>>20, budget>>20)
}
