package imageproc

import "image"

// colourSource is what a decoder found about an image's colour space: an
// embedded ICC profile (JPEG APP2, PNG iCCP, WebP ICCP, HEIF/AVIF colr
// prof), or the CICP code points of a HEIF/AVIF nclx box, or neither.
// The zero value means "untagged", which DESIGN.md §8 takes as sRGB.
type colourSource struct {
	// ICC is the whole embedded profile, segments already joined.
	ICC []byte
	// CICP is set for nclx (ITU-T H.273 code points); nil otherwise.
	CICP *cicp
}

// cicp holds the ITU-T H.273 code points of a HEIF/AVIF nclx box.
type cicp struct {
	Primaries, Transfer, Matrix uint16
	FullRange                   bool
}

// toSRGB returns img converted to sRGB from the colour space src
// describes. Untagged images come back unchanged.
//
// It is the single place colour conversion happens; decoders only report
// what they found. Until the ICC transform lands it converts nothing, which
// is the behaviour the pipeline has always had (issue 10).
func toSRGB(img image.Image, src colourSource) (image.Image, error) {
	_ = src
	return img, nil
}
