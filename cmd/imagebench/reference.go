package main

import (
	"image"
	"image/draw"
	"math"
	"sync"
)

// The SSIM yardstick. Every output is compared with a reference that
// neither side's code makes: an exact Lanczos-3 (a = 3, weights in float64,
// support widened by the shrink factor so it also antialiases, the image's
// real pixels beyond a crop box read, edges replicated) straight from the
// full-resolution decode of the original, with no shrink-on-load, no box
// pre-shrink and no 8-bit intermediate. Each side's decoder and filter
// leave their mark on what "the original" looks like, so the reference is
// made four ways: from two decodes of the original (Go's image/jpeg, the
// decoder our side uses, and libjpeg-turbo's djpeg with its float IDCT and
// fancy chroma upsampling, the family libvips decodes with), each filtered
// in gamma light (the sRGB values, which is what both sides filter) and in
// linear light (physically correct averaging, which neither side does).
// Every target is judged on whichever of the four is least favourable to
// us.

// refKinds are the references, by decoder and light.
var refKinds = []refKind{
	{"Go", false}, {"Go", true}, {"djpeg", false}, {"djpeg", true},
}

type refKind struct {
	decoder string // "Go" (image/jpeg) or "djpeg" (libjpeg-turbo)
	linear  bool
}

func (k refKind) String() string {
	if k.linear {
		return k.decoder + " linear"
	}
	return k.decoder + " gamma"
}

// planes is an RGB image as three float planes; gamma-light values are the
// 8-bit sRGB values, linear-light ones the same on the 0–255 scale.
type planes struct {
	w, h int
	c    [3][]float32
}

// srgbToLinear maps 8-bit sRGB values to linear light on the 0–255 scale.
var srgbToLinear = func() (t [256]float32) {
	for i := range t {
		v := float64(i) / 255
		if v <= 0.04045 {
			v /= 12.92
		} else {
			v = math.Pow((v+0.055)/1.055, 2.4)
		}
		t[i] = float32(v * 255)
	}
	return t
}()

func linearToSRGB(v float64) float64 {
	v = max(0, v/255)
	if v <= 0.0031308 {
		v *= 12.92
	} else {
		v = 1.055*math.Pow(v, 1/2.4) - 0.055
	}
	return v * 255
}

// toPlanes converts a decoded image to float planes, in linear light if
// asked.
func toPlanes(m image.Image, linear bool) planes {
	b := m.Bounds()
	rgba, ok := m.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, m, b.Min, draw.Src)
	}
	p := planes{w: b.Dx(), h: b.Dy()}
	for k := range p.c {
		p.c[k] = make([]float32, p.w*p.h)
	}
	for y := range p.h {
		row := rgba.Pix[y*rgba.Stride:]
		for x := range p.w {
			for k := range 3 {
				v := row[4*x+k]
				if linear {
					p.c[k][y*p.w+x] = srgbToLinear[v]
				} else {
					p.c[k][y*p.w+x] = float32(v)
				}
			}
		}
	}
	return p
}

// image rounds the planes to an 8-bit sRGB image.
func (p planes) image(linear bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, p.w, p.h))
	for i := range p.w * p.h {
		for k := range 3 {
			v := float64(p.c[k][i])
			if linear {
				v = linearToSRGB(v)
			}
			m.Pix[4*i+k] = uint8(math.Round(min(255, max(0, v))))
		}
		m.Pix[4*i+3] = 255
	}
	return m
}

func lanczos3(x float64) float64 {
	x = math.Abs(x)
	if x >= 3 {
		return 0
	}
	if x < 1e-12 {
		return 1
	}
	px := math.Pi * x
	return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
}

// taps are one output pixel's source indices (first, then consecutive) and
// normalised weights.
type taps struct {
	first int
	w     []float64
}

// weights maps the source interval [a, b) of an axis n pixels long onto out
// output pixels: output pixel i covers [a+i·s, a+(i+1)·s) with s = (b−a)/out,
// and is the Lanczos-3 average around its centre, the kernel stretched by s
// when shrinking. Indices outside the axis replicate its edge pixels.
func weights(n int, a, b float64, out int) []taps {
	s := (b - a) / float64(out)
	f := max(1, s)
	t := make([]taps, out)
	for i := range t {
		c := a + (float64(i)+0.5)*s
		lo, hi := int(math.Floor(c-3*f)), int(math.Ceil(c+3*f))
		w := make([]float64, hi-lo+1)
		var sum float64
		for j := lo; j <= hi; j++ {
			v := lanczos3((float64(j) + 0.5 - c) / f)
			w[j-lo] = v
			sum += v
		}
		for j := range w {
			w[j] /= sum
		}
		t[i] = taps{lo, w}
	}
	return t
}

func clampIndex(j, n int) int { return min(n-1, max(0, j)) }

// rows returns the source rows the vertical taps read, clamped.
func rowsOf(t []taps, n int) (lo, hi int) {
	lo, hi = n, -1
	for _, x := range t {
		lo = min(lo, clampIndex(x.first, n))
		hi = max(hi, clampIndex(x.first+len(x.w)-1, n))
	}
	return lo, hi
}

// horizontal resamples the source rows [r0, r1] along x; row r of the
// result is source row r0+r.
func (p planes) horizontal(tx []taps, r0, r1 int) planes {
	o := planes{w: len(tx), h: r1 - r0 + 1}
	for k := range o.c {
		if p.c[k] == nil {
			continue
		}
		o.c[k] = make([]float32, o.w*o.h)
		src, dst := p.c[k], o.c[k]
		for y := r0; y <= r1; y++ {
			row := src[y*p.w : (y+1)*p.w]
			for i, t := range tx {
				var s float64
				if t.first >= 0 && t.first+len(t.w) <= p.w {
					for j, v := range row[t.first : t.first+len(t.w)] {
						s += t.w[j] * float64(v)
					}
				} else {
					for j, w := range t.w {
						s += w * float64(row[clampIndex(t.first+j, p.w)])
					}
				}
				dst[(y-r0)*o.w+i] = float32(s)
			}
		}
	}
	return o
}

// vertical resamples the output of horizontal (whose row 0 is source row
// r0 of an axis n rows long) along y.
func (p planes) vertical(ty []taps, r0, n int) planes {
	o := planes{w: p.w, h: len(ty)}
	for k := range o.c {
		if p.c[k] == nil {
			continue
		}
		o.c[k] = make([]float32, o.w*o.h)
		src, dst := p.c[k], o.c[k]
		for i, t := range ty {
			out := dst[i*o.w : (i+1)*o.w]
			acc := make([]float64, o.w)
			for j, w := range t.w {
				row := src[(clampIndex(t.first+j, n)-r0)*p.w:]
				for x := range acc {
					acc[x] += w * float64(row[x])
				}
			}
			for x, v := range acc {
				out[x] = float32(v)
			}
		}
	}
	return o
}

// box is a region of the source in pixel-edge coordinates: x0, y0, x1, y1.
type box [4]float64

// resample maps box of the source onto a w×h output.
func (p planes) resample(b box, w, h int) planes {
	ty := weights(p.h, b[1], b[3], h)
	r0, r1 := rowsOf(ty, p.h)
	return p.horizontal(weights(p.w, b[0], b[2], w), r0, r1).vertical(ty, r0, p.h)
}

// reference is one original ready to be resampled in one kind of light.
type reference struct {
	src    planes
	linear bool
}

// full is the reference for a full-frame output of w×h.
func (r reference) full(w, h int) *image.NRGBA {
	return r.src.resample(box{0, 0, float64(r.src.w), float64(r.src.h)}, w, h).image(r.linear)
}

// centreBox is the largest box of the output's aspect ratio centred on
// the source, the box a centre crop takes in exact arithmetic.
func centreBox(sw, sh, w, h int) box {
	fw, fh := float64(sw), float64(sh)
	cw, ch := fw, fw*float64(h)/float64(w)
	if ch > fh {
		cw, ch = fh*float64(w)/float64(h), fh
	}
	return box{(fw - cw) / 2, (fh - ch) / 2, (fw + cw) / 2, (fh + ch) / 2}
}

// shift is a displacement of a crop box in output pixels.
type shift struct{ x, y float64 }

// cropBox is the centre box for a w×h crop moved by d output pixels.
func cropBox(sw, sh, w, h int, d shift) box {
	c := centreBox(sw, sh, w, h)
	sx, sy := (c[2]-c[0])/float64(w), (c[3]-c[1])/float64(h)
	return box{c[0] + d.x*sx, c[1] + d.y*sy, c[2] + d.x*sx, c[3] + d.y*sy}
}

// crop is the reference for a w×h centre crop whose box is moved by d.
func (r reference) crop(w, h int, d shift) *image.NRGBA {
	return r.src.resample(cropBox(r.src.w, r.src.h, w, h, d), w, h).image(r.linear)
}

// lumaPlanes keeps only the Rec. 601 luma of gamma-light planes, in the
// first plane: what SSIM looks at, at a third of the cost to resample.
func lumaPlanes(p planes) planes {
	y := make([]float32, p.w*p.h)
	for i := range y {
		y[i] = 0.299*p.c[0][i] + 0.587*p.c[1][i] + 0.114*p.c[2][i]
	}
	return planes{w: p.w, h: p.h, c: [3][]float32{y}}
}

// grey rounds a luma-only plane to an image whose luma is that plane.
func (p planes) grey() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, p.w, p.h))
	for i, v := range p.c[0] {
		g := uint8(math.Round(min(255, max(0, float64(v)))))
		m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = g, g, g, 255
	}
	return m
}

// registerRange is how far (output pixels) a crop's box may be moved to
// meet a side's crop, and registerSteps the search's grids: a 1/4-pixel
// grid over the whole range, then a 1/16-pixel one around its best point.
const registerRange = 1.0

var registerSteps = []struct{ step, span float64 }{{0.25, registerRange}, {1.0 / 16, 3.0 / 16}}

// registerCrop finds where a side's w×h centre crop came from: among the
// centre box moved by up to registerRange output pixels on each axis, the
// one whose reference looks most like lossless (that side's own lossless
// rendition), by SSIM. Each side places its crop box with its own rounding
// (libvips rounds in the pixels of the frame it crops, we in those of an
// intermediate), a shift of a fraction of a pixel that nobody can see but
// SSIM punishes hard at 150×150; the same search for both sides removes
// it. The box is a matter of geometry, not of light or decoder, so it is
// found once, on the luma of lum (lumaPlanes), and every reference then
// uses it; and the encoded outputs are judged at the shift their lossless
// rendition chose: the geometry is the resizer's, and the encoder must not
// pick its own.
func registerCrop(lum planes, lossless image.Image, w, h int, score func(a, b image.Image) (float64, error)) (shift, error) {
	best, bestS := shift{}, math.Inf(-1)
	for _, g := range registerSteps {
		var offs []float64
		for d := -g.span; d <= g.span+1e-9; d += g.step {
			offs = append(offs, d)
		}
		centre := best
		ty := make([][]taps, len(offs))
		r0, r1 := lum.h, -1
		for j, dy := range offs {
			b := cropBox(lum.w, lum.h, w, h, shift{0, centre.y + dy})
			ty[j] = weights(lum.h, b[1], b[3], h)
			lo, hi := rowsOf(ty[j], lum.h)
			r0, r1 = min(r0, lo), max(r1, hi)
		}
		// One horizontal pass per column offset, two at a time; the
		// vertical passes and scores are small.
		hp := make([]planes, len(offs))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i, dx := range offs {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				b := cropBox(lum.w, lum.h, w, h, shift{centre.x + dx, 0})
				hp[i] = lum.horizontal(weights(lum.w, b[0], b[2], w), r0, r1)
			})
		}
		wg.Wait()
		for i, dx := range offs {
			for j, dy := range offs {
				s, err := score(lossless, hp[i].vertical(ty[j], r0, lum.h).grey())
				if err != nil {
					return shift{}, err
				}
				if s > bestS {
					best, bestS = shift{centre.x + dx, centre.y + dy}, s
				}
			}
		}
	}
	return best, nil
}
