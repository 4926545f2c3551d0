package imageproc

import "image"

// VP8, the codec of lossy WebP, stores BT.601 YCbCr in video range (Y
// 16…235, Cb and Cr 16…240), as libwebp writes and reads it. x/image/webp
// returns those samples in an image.YCbCr, whose conversion to RGB (and
// ycbcrToRGB's) is JFIF full range: black would come out 16 and white 235.
// expandVideoRange rescales the planes in place to full range, so every
// later step converts them right. Lossless WebP is RGB and is not touched.
func expandVideoRange(img image.Image) {
	var m *image.YCbCr
	switch v := img.(type) {
	case *image.YCbCr:
		m = v
	case *image.NYCbCrA:
		m = &v.YCbCr
	default:
		return
	}
	var ylut, clut [256]uint8
	for i := range 256 {
		ylut[i] = uint8(max(0, min(255, roundDiv((i-16)*255, 219))))
		clut[i] = uint8(max(0, min(255, 128+roundDiv((i-128)*255, 224))))
	}
	for i, y := range m.Y {
		m.Y[i] = ylut[y]
	}
	for i, c := range m.Cb {
		m.Cb[i] = clut[c]
	}
	for i, c := range m.Cr {
		m.Cr[i] = clut[c]
	}
}

// roundDiv is a/b rounded half away from zero, for b > 0.
func roundDiv(a, b int) int {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}
