package imageproc

import (
	"context"
	"image"
	"math"

	"github.com/disintegration/imaging"

	"uploader/internal/upload"
)

// geometry is where one variant comes from and how big it ends up. Crops are
// kept as fractions of the full frame so they can be applied to any
// intermediate in the cascade.
type geometry struct {
	outW, outH int
	full       float64    // output scale relative to the oriented source (<= 1)
	crop       [4]float64 // x0, y0, x1, y1 as fractions of the full frame
}

// planGeometry computes the output size for a spec on a w×h source. Neither
// fit ever scales up: a small source gives a small output.
func planGeometry(spec upload.VariantSpec, w, h int) geometry {
	g := geometry{crop: [4]float64{0, 0, 1, 1}}
	W, H := spec.Width, spec.Height
	fw, fh := float64(w), float64(h)
	switch spec.Fit {
	case upload.FitCover:
		s := math.Max(float64(W)/fw, float64(H)/fh)
		var cw, ch float64 // crop size in source pixels
		if s >= 1 {
			// Too small to fill the box: the largest centred box of the
			// requested aspect ratio, at the source's own resolution.
			if int64(w)*int64(H) > int64(h)*int64(W) {
				ch, cw = fh, math.Max(1, math.Round(fh*float64(W)/float64(H)))
			} else {
				cw, ch = fw, math.Max(1, math.Round(fw*float64(H)/float64(W)))
			}
			g.outW, g.outH, g.full = int(cw), int(ch), 1
		} else {
			cw, ch = math.Min(fw, float64(W)/s), math.Min(fh, float64(H)/s)
			g.outW, g.outH, g.full = W, H, s
		}
		x0, y0 := (fw-cw)/2/fw, (fh-ch)/2/fh
		g.crop = [4]float64{x0, y0, x0 + cw/fw, y0 + ch/fh}
	default: // upload.FitInside
		if w <= W && h <= H {
			g.outW, g.outH, g.full = w, h, 1
			return g
		}
		if int64(w)*int64(H) > int64(h)*int64(W) {
			g.outW = W
			g.outH = max(1, int(math.Round(fh*float64(W)/fw)))
			g.full = float64(W) / fw
		} else {
			g.outH = H
			g.outW = max(1, int(math.Round(fw*float64(H)/fh)))
			g.full = float64(H) / fh
		}
	}
	return g
}

// cascade holds the full-frame renderings made so far, largest first in
// practice, so each variant can start from the smallest one that still has
// enough detail.
type cascade struct {
	srcW   int
	opaque bool           // every pixel opaque: the fixed-point resampler applies
	frames []*image.NRGBA // full frames; frames[0] is the oriented source
}

// halveAbove is the frame area above which base box-halves a frame before
// the final filter. Below it the final filter reads the frame
// directly: a box halving aliases fine texture that the wide filter would
// have removed, and on a frame this small the wider filter costs next to
// nothing.
const halveAbove = 2 << 20

// base returns the smallest full frame at least twice the needed width (so
// the final filter still has real detail to average), falling back to the
// source, then, if it is large, box-halves it while it is more than three
// times too big.
func (c *cascade) base(ctx context.Context, needW float64) (*image.NRGBA, error) {
	best := c.frames[0]
	for _, f := range c.frames[1:] {
		if float64(f.Rect.Dx()) >= 2*needW && f.Rect.Dx() < best.Rect.Dx() {
			best = f
		}
	}
	for float64(best.Rect.Dx()) > 3*needW && best.Rect.Dx()*best.Rect.Dy() > halveAbove && best.Rect.Dx() >= 4 && best.Rect.Dy() >= 4 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		best = halve(best)
		c.frames = append(c.frames, best)
	}
	return best, nil
}

// render produces the variant described by g.
func (c *cascade) render(ctx context.Context, g geometry) (*image.NRGBA, error) {
	needW := float64(c.srcW) * g.full
	b, err := c.base(ctx, needW)
	if err != nil {
		return nil, err
	}
	bw, bh := float64(b.Rect.Dx()), float64(b.Rect.Dy())
	r := image.Rect(
		int(math.Round(g.crop[0]*bw)), int(math.Round(g.crop[1]*bh)),
		int(math.Round(g.crop[2]*bw)), int(math.Round(g.crop[3]*bh)),
	).Intersect(b.Rect)
	if r.Empty() {
		r = b.Rect
	}
	sub := b.SubImage(r).(*image.NRGBA)
	if r.Dx() == g.outW && r.Dy() == g.outH {
		if r == b.Rect {
			return b, nil // nothing to do: encoders only read
		}
		return imaging.Clone(sub), nil
	}
	var out *image.NRGBA
	if c.opaque {
		out = resizeOpaque(sub, g.outW, g.outH)
	} else {
		out = imaging.Resize(sub, g.outW, g.outH, imaging.CatmullRom)
	}
	if g.crop == [4]float64{0, 0, 1, 1} {
		c.frames = append(c.frames, out)
	}
	return out, nil
}
