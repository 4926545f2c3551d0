package imageproc

import (
	"context"
	"fmt"
	"image"
	"math"
	"runtime"
	"slices"
	"sync"

	"uploader/internal/upload"
)

// Options tunes Process beyond what the profile says.
type Options struct {
	// MaxPixels refuses images above this many pixels (width*height) before
	// decoding. 0 uses the profile's MaxPixels; when both are set the lower
	// one wins; when neither is, DefaultMaxPixels.
	MaxPixels int64
	// MaxGIFFramePixels is the total pixel budget over all GIF frames
	// (0: 4*MaxPixels).
	MaxGIFFramePixels int64
	// Optimizer runs external tools on each PNG output and encodes WebP
	// with cwebp; nil keeps the pure-Go output. JPEG outputs skip it: they
	// leave the encoder progressive with optimized Huffman tables, which is
	// what jpegtran would make of them.
	Optimizer *Optimizer
}

// Output is one encoded rendition.
type Output struct {
	File          string // spec name + "." + ext, e.g. "w1024.jpg", "w1024.webp", "thumb150.png"
	Spec          string // the VariantSpec name, e.g. "w1024"
	ContentType   string // image/jpeg, image/png or image/webp
	Width, Height int
	Data          []byte
	OriginalBytes int64 // size before the optimizer chain ran (== len(Data) when nothing improved)
}

// Result is what Process made of an upload.
type Result struct {
	ContentType   string // sniffed type of the source
	Width, Height int    // of the source after auto-orientation
	HasAlpha      bool
	Blurhash      string   // blurhash of the oriented image (4x3 components)
	Outputs       []Output // in profile order: for each VariantSpec, one Output per format
}

// limits merges the options with the profile's own limit.
func (opt Options) limits(p upload.Profile) Limits {
	l := Limits{MaxPixels: opt.MaxPixels, MaxGIFFramePixels: opt.MaxGIFFramePixels}
	if p.MaxPixels > 0 && (l.MaxPixels <= 0 || p.MaxPixels < l.MaxPixels) {
		l.MaxPixels = p.MaxPixels
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	return l
}

// Process validates, decodes once, auto-orients, resizes and encodes data
// for the profile's variants. Errors that no retry can fix (not an image,
// too many pixels, damaged) are *upload.Error values with codes
// EUNSUPPORTED, ETOOMANYPX or ECORRUPT; a cancelled ctx returns ctx.Err().
//
// A format listed twice for a spec in effect ("auto" resolving to JPEG next
// to "jpeg") yields one output, since both would have the same file name.
func Process(ctx context.Context, data []byte, p upload.Profile, opt Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ct, cfg, err := opt.limits(p).Check(data)
	if err != nil {
		return nil, err
	}
	if len(p.AllowedTypes) > 0 && !p.Allows(ct) {
		return nil, upload.Errorf(upload.EUNSUPPORTED, "This file is a %s image, which %q uploads do not accept.", kindOf(ct), p.Name)
	}
	o := orientation(ct, data)
	ow, oh := cfg.Width, cfg.Height
	if o >= 5 { // the orientations that swap width and height
		ow, oh = oh, ow
	}
	// The largest variant decides how much detail the decode must keep.
	var top geometry
	for _, spec := range p.Variants {
		if g := planGeometry(spec, ow, oh); g.full > top.full {
			top = g
		}
	}
	img, err := decode(ct, data, cfg, loadShift(ct, top.full))
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src, maybeAlpha := firstFrame(img, top, ow, oh, o)
	img = nil // let the decoder's buffers go before the variants are made
	alpha := maybeAlpha && hasAlpha(src)
	src = orient(src, o)
	res := &Result{ContentType: ct, Width: ow, Height: oh, HasAlpha: alpha}

	// Outputs are laid out in profile order up front; rendering happens
	// largest first so each size can start from the previous one.
	type job struct {
		spec    upload.VariantSpec
		geo     geometry
		outputs []int
	}
	jobs := make([]job, len(p.Variants))
	for i, spec := range p.Variants {
		jobs[i] = job{spec: spec, geo: planGeometry(spec, res.Width, res.Height)}
		var seen []string
		for _, f := range spec.Formats {
			fct, ext := outputFormat(f, alpha)
			if slices.Contains(seen, fct) {
				continue
			}
			seen = append(seen, fct)
			jobs[i].outputs = append(jobs[i].outputs, len(res.Outputs))
			res.Outputs = append(res.Outputs, Output{
				File: spec.Name + "." + ext, Spec: spec.Name, ContentType: fct,
				Width: jobs[i].geo.outW, Height: jobs[i].geo.outH,
			})
		}
	}
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpDesc(jobs[a].geo.full, jobs[b].geo.full) })

	// Encoders are single-threaded (and the optimizers are separate
	// processes), so they run concurrently while the next size is resized.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, runtime.GOMAXPROCS(0))
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	c := &cascade{srcW: res.Width, opaque: !alpha, frames: []*image.NRGBA{src}}
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			break
		}
		m, err := c.render(ctx, jobs[i].geo)
		if err != nil {
			fail(err)
			break
		}
		for _, oi := range jobs[i].outputs {
			quality := jobs[i].spec.Quality
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				defer func() {
					// The WebAssembly encoder is the one piece not written
					// in Go; a panic there must fail this upload, not the
					// worker.
					if r := recover(); r != nil {
						fail(fmt.Errorf("imageproc: encoder panic: %v", r))
					}
				}()
				if ctx.Err() != nil {
					return
				}
				out := &res.Outputs[oi]
				if out.ContentType == TypeWebP && !nativeWebP() && opt.Optimizer.hasWebPEncoder() {
					if b, ok := opt.Optimizer.encodeWebP(ctx, m, quality, alpha); ok {
						out.Data, out.OriginalBytes = b, int64(len(b))
						return
					}
				}
				b, err := encode(m, out.ContentType, quality, alpha)
				if err != nil {
					fail(err)
					return
				}
				out.OriginalBytes = int64(len(b))
				// JPEGs leave the encoder progressive with optimized tables,
				// which is what jpegtran would do; a
				// second pass through it cost more CPU than resizing.
				if opt.Optimizer != nil && out.ContentType != TypeJPEG {
					if b, err = opt.Optimizer.Optimize(ctx, out.ContentType, b, p.AllowLossy); err != nil {
						fail(err)
						return
					}
				}
				out.Data = b
			})
		}
	}
	// The blurhash reads the smallest full frame that is still 32 pixels
	// wide, which the cascade has usually made already.
	bh := c.frames[0]
	for _, f := range c.frames[1:] {
		if f.Rect.Dx() >= 32 && f.Rect.Dx() < bh.Rect.Dx() {
			bh = f
		}
	}
	res.Blurhash = Blurhash(bh, 4, 3)
	wg.Wait()
	if err := parent.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return res, nil
}

// firstFrame converts the decoded image to the NRGBA the cascade works on,
// still in stored orientation. A colour JPEG or lossy WebP that the largest
// variant (top, on the ow×oh oriented image) shrinks is resampled straight
// from its YCbCr planes to that variant's full-frame size: the full-size
// RGBA copy is never made and the largest variant needs no further work.
func firstFrame(img image.Image, top geometry, ow, oh, o int) (*image.NRGBA, bool) {
	if ycc, ok := img.(*image.YCbCr); ok && top.full > 0 && top.full < 1 {
		w, h := top.outW, top.outH
		if top.crop != [4]float64{0, 0, 1, 1} {
			w = max(1, int(math.Round(float64(ow)*top.full)))
			h = max(1, int(math.Round(float64(oh)*top.full)))
		}
		if o >= 5 {
			w, h = h, w
		}
		if w < ycc.Rect.Dx() && h <= ycc.Rect.Dy() {
			return resizeYCbCr(ycc, w, h), false
		}
	}
	return toNRGBA(img)
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
