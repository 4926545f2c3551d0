package imageproc

import (
	"image"
	"math"
	"strings"

	"github.com/disintegration/imaging"
)

const base83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"

// srgbToLinear maps an 8-bit sRGB value to linear light, precomputed because
// the blurhash sum reads it nx*ny times per pixel.
var srgbToLinear = func() (t [256]float64) {
	for i := range t {
		v := float64(i) / 255
		if v <= 0.04045 {
			t[i] = v / 12.92
		} else {
			t[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return t
}()

func linearToSRGB(v float64) int {
	v = math.Max(0, math.Min(1, v))
	if v <= 0.0031308 {
		return int(v*12.92*255 + 0.5)
	}
	return int((1.055*math.Pow(v, 1/2.4)-0.055)*255 + 0.5)
}

func encode83(sb *strings.Builder, v, length int) {
	for i := 1; i <= length; i++ {
		d := (v / int(math.Pow(83, float64(length-i)))) % 83
		sb.WriteByte(base83[d])
	}
}

// Blurhash computes the blurhash (https://blurha.sh) of img with nx×ny
// components, using the reference algorithm. It works on a copy about 32
// pixels wide: the hash keeps only the lowest frequencies, so more pixels
// cost time without changing it meaningfully. Transparent areas are seen over
// white, the usual page background.
func Blurhash(img image.Image, nx, ny int) string {
	nx, ny = max(1, min(9, nx)), max(1, min(9, ny))
	b := img.Bounds()
	if b.Empty() {
		return ""
	}
	var m *image.NRGBA
	if b.Dx() > 32 {
		m = imaging.Resize(img, 32, max(1, int(math.Round(float64(b.Dy())*32/float64(b.Dx())))), imaging.Box)
	} else {
		m = imaging.Clone(img)
	}
	m = flatten(m)
	w, h := m.Rect.Dx(), m.Rect.Dy()

	factors := make([][3]float64, 0, nx*ny)
	cosX, cosY := make([]float64, w), make([]float64, h)
	for j := 0; j < ny; j++ {
		for y := range h {
			cosY[y] = math.Cos(math.Pi * float64(j) * float64(y) / float64(h))
		}
		for i := 0; i < nx; i++ {
			for x := range w {
				cosX[x] = math.Cos(math.Pi * float64(i) * float64(x) / float64(w))
			}
			var f [3]float64
			for y := range h {
				row := m.Pix[y*m.Stride:]
				for x := range w {
					basis := cosX[x] * cosY[y]
					f[0] += basis * srgbToLinear[row[4*x]]
					f[1] += basis * srgbToLinear[row[4*x+1]]
					f[2] += basis * srgbToLinear[row[4*x+2]]
				}
			}
			norm := 2.0
			if i == 0 && j == 0 {
				norm = 1
			}
			scale := norm / float64(w*h)
			factors = append(factors, [3]float64{f[0] * scale, f[1] * scale, f[2] * scale})
		}
	}

	var sb strings.Builder
	encode83(&sb, (nx-1)+(ny-1)*9, 1)
	maxVal := 1.0
	if len(factors) > 1 {
		actual := 0.0
		for _, f := range factors[1:] {
			actual = math.Max(actual, math.Max(math.Abs(f[0]), math.Max(math.Abs(f[1]), math.Abs(f[2]))))
		}
		q := int(math.Max(0, math.Min(82, math.Floor(actual*166-0.5))))
		maxVal = float64(q+1) / 166
		encode83(&sb, q, 1)
	} else {
		encode83(&sb, 0, 1)
	}
	dc := factors[0]
	encode83(&sb, linearToSRGB(dc[0])<<16|linearToSRGB(dc[1])<<8|linearToSRGB(dc[2]), 4)
	for _, f := range factors[1:] {
		q := func(v float64) int {
			s := math.Copysign(math.Pow(math.Abs(v/maxVal), 0.5), v)
			return int(math.Max(0, math.Min(18, math.Floor(s*9+9.5))))
		}
		encode83(&sb, q(f[0])*19*19+q(f[1])*19+q(f[2]), 2)
	}
	return sb.String()
}
