// Package ssim measures how alike two images look: the mean structural
// similarity (SSIM) of their lumas. The benchmarks and the encoder tests
// judge outputs with it.
package ssim

import (
	"fmt"
	"image"
	"image/draw"
	"math"
)

// luma returns the Rec. 601 luma of every pixel, the channel SSIM is
// conventionally computed on (the eye judges detail mostly by brightness).
func luma(m image.Image) (y []float64, w, h int) {
	b := m.Bounds()
	w, h = b.Dx(), b.Dy()
	rgba, ok := m.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Rect, m, b.Min, draw.Src)
	}
	y = make([]float64, w*h)
	for j := range h {
		row := rgba.Pix[j*rgba.Stride:]
		for i := range w {
			p := row[4*i:]
			y[j*w+i] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
		}
	}
	return y, w, h
}

// gaussian11 is the 11-tap, σ = 1.5 window of Wang et al. (2004).
var gaussian11 = func() []float64 {
	k := make([]float64, 11)
	var sum float64
	for i := range k {
		d := float64(i - 5)
		k[i] = math.Exp(-d * d / (2 * 1.5 * 1.5))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}()

// blurValid convolves a w×h plane with the separable window and keeps only
// the positions where the window lies inside the image.
func blurValid(p []float64, w, h int) ([]float64, int, int) {
	n := len(gaussian11)
	ow, oh := w-n+1, h-n+1
	tmp := make([]float64, ow*h)
	for y := range h {
		for x := range ow {
			var s float64
			for k, g := range gaussian11 {
				s += g * p[y*w+x+k]
			}
			tmp[y*ow+x] = s
		}
	}
	out := make([]float64, ow*oh)
	for y := range oh {
		for x := range ow {
			var s float64
			for k, g := range gaussian11 {
				s += g * tmp[(y+k)*ow+x]
			}
			out[y*ow+x] = s
		}
	}
	return out, ow, oh
}

// Of is the mean structural similarity of the lumas of a and b with the
// standard constants (K1 = 0.01, K2 = 0.03, L = 255) and Gaussian window.
func Of(a, b image.Image) (float64, error) {
	ya, w, h := luma(a)
	yb, wb, hb := luma(b)
	if w != wb || h != hb {
		return 0, fmt.Errorf("ssim: sizes differ: %dx%d and %dx%d", w, h, wb, hb)
	}
	if w < len(gaussian11) || h < len(gaussian11) {
		return 0, fmt.Errorf("ssim: %dx%d is smaller than the window", w, h)
	}
	sq := func(p, q []float64) []float64 {
		r := make([]float64, len(p))
		for i := range p {
			r[i] = p[i] * q[i]
		}
		return r
	}
	mu1, ow, oh := blurValid(ya, w, h)
	mu2, _, _ := blurValid(yb, w, h)
	s11, _, _ := blurValid(sq(ya, ya), w, h)
	s22, _, _ := blurValid(sq(yb, yb), w, h)
	s12, _, _ := blurValid(sq(ya, yb), w, h)
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	var sum float64
	for i := range ow * oh {
		m1, m2 := mu1[i], mu2[i]
		v1, v2, cv := s11[i]-m1*m1, s22[i]-m2*m2, s12[i]-m1*m2
		sum += (2*m1*m2 + c1) * (2*cv + c2) / ((m1*m1 + m2*m2 + c1) * (v1 + v2 + c2))
	}
	return sum / float64(ow*oh), nil
}
