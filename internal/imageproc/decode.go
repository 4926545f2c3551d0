package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strconv"
	"strings"

	"golang.org/x/image/webp"

	"uploader/internal/imageproc/internal/jpegscale"
	"uploader/internal/upload"
)

// DefaultMaxPixels is the limit used when neither Options nor the profile
// sets one (DESIGN.md §8: 50 MP).
const DefaultMaxPixels = 50_000_000

// corrupt wraps a decoder failure into the message a person sees.
func corrupt(ct string, err error) *upload.Error {
	reason := "the " + kindOf(ct) + " data is not valid"
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		reason = "the " + kindOf(ct) + " data ends early"
	default:
		// Decoder errors are short and safe ("invalid JPEG format: bad RST
		// marker"); drop the package prefix so the sentence reads naturally.
		msg := err.Error()
		if i := strings.Index(msg, ": "); i > 0 && i < 8 {
			msg = msg[i+2:]
		}
		reason += " (" + msg + ")"
	}
	return upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: %s.", reason)
}

func kindOf(ct string) string {
	switch ct {
	case TypeJPEG:
		return "JPEG"
	case TypePNG:
		return "PNG"
	case TypeGIF:
		return "GIF"
	case TypeWebP:
		return "WebP"
	case TypeHEIC:
		return "HEIC"
	case TypeHEIF:
		return "HEIF"
	case TypeAVIF:
		return "AVIF"
	}
	return ct
}

// megapixels formats a pixel count the way people say it: "3600", "12",
// "0.3".
func megapixels(n int64) string {
	mp := float64(n) / 1e6
	prec := 2
	switch {
	case mp >= 10:
		prec = 0
	case mp >= 1:
		prec = 1
	}
	s := strconv.FormatFloat(mp, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func tooManyPixels(w, h int, limit int64) *upload.Error {
	return upload.Errorf(upload.ETOOMANYPX, "This image is %d×%d pixels (%s MP); the limit is %s MP.",
		w, h, megapixels(int64(w)*int64(h)), megapixels(limit))
}

// Limits are the pixel budgets checked before decoding.
type Limits struct {
	MaxPixels         int64 // width*height of the image
	MaxGIFFramePixels int64 // sum of the areas of every GIF frame
}

// Check sniffs data and reads only its header (and, for GIF, the frame
// descriptors), refusing it when it exceeds the limits. It returns the
// sniffed type and the declared size. Nothing proportional to the pixel count
// is allocated, which is the point: a 100-byte file can declare 60000×60000.
func (l Limits) Check(data []byte) (string, image.Config, error) {
	ct, err := Sniff(data)
	if err != nil {
		return "", image.Config{}, err
	}
	cfg, err := decodeConfig(ct, data)
	if err != nil {
		return ct, cfg, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return ct, cfg, upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s image declares a size of %d×%d pixels.", kindOf(ct), cfg.Width, cfg.Height)
	}
	limit := l.MaxPixels
	if limit <= 0 {
		limit = DefaultMaxPixels
	}
	if int64(cfg.Width)*int64(cfg.Height) > limit {
		return ct, cfg, tooManyPixels(cfg.Width, cfg.Height, limit)
	}
	if ct == TypeWebP && len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0 {
		// The decoders here read still WebP only; saying so beats calling
		// a valid animation damaged.
		return ct, cfg, upload.Errorf(upload.EUNSUPPORTED, "This file is an animated WebP image; only still WebP images (or animated GIFs) are accepted.")
	}
	if ct == TypeGIF {
		budget := l.MaxGIFFramePixels
		if budget <= 0 {
			budget = 4 * limit
		}
		frames, area := gifFrameArea(data, budget)
		if area > budget {
			return ct, cfg, upload.Errorf(upload.ETOOMANYPX,
				"This animated GIF has at least %d frames totalling over %s MP; the limit is %s MP over all frames.",
				frames, megapixels(area), megapixels(budget))
		}
	}
	return ct, cfg, nil
}

// decodeConfig calls the DecodeConfig of the sniffed type, never the generic
// image.DecodeConfig, so a registered TIFF or BMP decoder is unreachable.
func decodeConfig(ct string, data []byte) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = image.Config{}, corrupt(ct, fmt.Errorf("decoder panic: %v", r))
		}
	}()
	r := bytes.NewReader(data)
	switch ct {
	case TypeJPEG:
		if err := jpegCoding(data); err != nil {
			return cfg, err
		}
		cfg, err = jpeg.DecodeConfig(r)
	case TypePNG:
		cfg, err = png.DecodeConfig(r)
	case TypeGIF:
		cfg, err = gif.DecodeConfig(r)
	case TypeWebP:
		cfg, err = webp.DecodeConfig(r)
	case TypeHEIC, TypeHEIF, TypeAVIF:
		cfg, _, err = heifConfig(ct, data)
		return cfg, err
	default:
		return cfg, upload.Errorf(upload.EUNSUPPORTED, "This file is not an image we accept; %s", acceptedTypes)
	}
	if err != nil {
		if ue := jpegUnsupported(err); ue != err {
			return image.Config{}, ue
		}
		return image.Config{}, corrupt(ct, err)
	}
	return cfg, nil
}

// decode decodes with the decoder of the sniffed type. Callers must have run
// Limits.Check first. A JPEG is reduced by 1<<shift while it is decoded
// (see loadShift); the other formats ignore shift. The recover is a last
// line of defence: the standard decoders are fuzzed and return errors, but
// a panic on hostile input must become a refusal, not a crashed worker.
func decode(ct string, data []byte, cfg image.Config, shift uint) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, corrupt(ct, fmt.Errorf("decoder panic: %v", r))
		}
	}()
	r := bytes.NewReader(data)
	switch ct {
	case TypeJPEG:
		img, err = jpegscale.Decode(r, shift)
	case TypePNG:
		shift = 0
		img, err = png.Decode(r)
	case TypeGIF:
		shift = 0
		// gif.Decode stops after the first frame: animations become stills.
		img, err = gif.Decode(r)
		if err == nil {
			img = gifStill(img, cfg)
		}
	case TypeWebP:
		shift = 0
		img, err = webp.Decode(r)
		if err == nil {
			expandVideoRange(img)
		}
	case TypeHEIC, TypeHEIF, TypeAVIF:
		// Checked against the container's size inside; no shrink-on-load.
		return decodeHEIF(ct, data, cfg)
	default:
		return nil, upload.Errorf(upload.EUNSUPPORTED, "This file is not an image we accept; %s", acceptedTypes)
	}
	if err != nil {
		if ue := jpegUnsupported(err); ue != err {
			return nil, ue
		}
		return nil, corrupt(ct, err)
	}
	n := 1 << shift
	if b := img.Bounds(); b.Dx() != (cfg.Width+n-1)/n || b.Dy() != (cfg.Height+n-1)/n {
		return nil, upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s header says %d×%d pixels but the image is %d×%d.",
			kindOf(ct), cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	// Colour is converted before any resizing (DESIGN.md §8).
	return toSRGB(img, colourOf(ct, data))
}

// shrinkOnLoadMargin is how much downscaling must be left for the
// resampling step after a JPEG is reduced while decoding. The reduction
// works block by block (a truncated inverse DCT, like libjpeg's). 1 means
// reduce as far as the largest variant allows: on the 12 MP photo of
// cmd/imagebench (4272 pixels to 2048) that is a 1/2 decode, 15% less CPU
// and 25% less memory than a full one, for a resize SSIM of 0.9960
// against a Lanczos resize of the full image (0.9984 from the full
// decode; libvips, which decodes it in full, 0.9974). 1.4 used to keep
// that photo at full size.
const shrinkOnLoadMargin = 1.0

// loadShift picks how much to reduce a JPEG while decoding it: the largest
// power of two (up to 8) that still leaves the largest variant, whose scale
// relative to the full image is full, a downscale of at least
// shrinkOnLoadMargin. Other formats decode at full size.
func loadShift(ct string, full float64) uint {
	if ct != TypeJPEG || full <= 0 {
		return 0
	}
	var s uint
	for s < 3 && full*float64(int(2)<<s)*shrinkOnLoadMargin <= 1 {
		s++
	}
	return s
}

// gifStill places the first frame on the logical screen. A GIF frame may be
// smaller than the screen and offset; what a browser shows before the second
// frame is that frame over a transparent background.
func gifStill(frame image.Image, cfg image.Config) image.Image {
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if frame.Bounds() == screen {
		return frame
	}
	dst := image.NewNRGBA(screen)
	draw.Draw(dst, frame.Bounds().Intersect(screen), frame, frame.Bounds().Min, draw.Src)
	return dst
}

// gifFrameArea walks the GIF block structure without decompressing anything
// and returns how many image descriptors it saw and the sum of their areas.
// It stops early once the sum exceeds budget. A truncated or malformed
// stream just ends the walk: the decoder reports corruption on its own, and
// the sum so far is still a lower bound.
func gifFrameArea(data []byte, budget int64) (frames int, area int64) {
	if len(data) < 13 {
		return 0, 0
	}
	p := 13
	if data[10]&0x80 != 0 { // global colour table
		p += 3 << (data[10]&7 + 1)
	}
	// skipSubBlocks returns the position after a chain of data sub-blocks.
	skipSubBlocks := func(p int) int {
		for p < len(data) {
			n := int(data[p])
			p++
			if n == 0 {
				return p
			}
			p += n
		}
		return len(data)
	}
	for p < len(data) {
		switch data[p] {
		case 0x21: // extension: introducer, label, sub-blocks
			p = skipSubBlocks(p + 2)
		case 0x2C: // image descriptor
			if p+10 > len(data) {
				return frames, area
			}
			w := int64(data[p+5]) | int64(data[p+6])<<8
			h := int64(data[p+7]) | int64(data[p+8])<<8
			packed := data[p+9]
			frames++
			area += w * h
			if area > budget {
				return frames, area
			}
			p += 10
			if packed&0x80 != 0 { // local colour table
				p += 3 << (packed&7 + 1)
			}
			p = skipSubBlocks(p + 1) // +1: LZW minimum code size
		default: // 0x3B trailer, or garbage the decoder will judge
			return frames, area
		}
	}
	return frames, area
}
