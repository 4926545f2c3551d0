// Package imageproc turns uploaded bytes into published renditions: it sniffs
// the type, enforces the pixel limits before any pixel buffer exists, decodes
// once with the decoder of the sniffed type, auto-orients from EXIF, resizes in
// a cascade, re-encodes without metadata and optionally runs the optimizer
// tools found on PATH.
//
// Large JPEGs are the common case and the expensive one, so they get three
// shortcuts, each checked against the slow path in tests: the decoder
// (internal/jpegscale, a fork of image/jpeg) reduces them by a power of two
// while decoding when the largest variant leaves enough margin; the first
// variant is resampled straight from the decoded YCbCr planes, so no
// full-size RGBA copy exists; and JPEGs are written by internal/jpegenc,
// progressive with optimized Huffman tables and the same pixels as
// image/jpeg, so the jpegtran pass is not needed.
//
// Everything here is a pure function of its input bytes; the package does no
// storage or network I/O. It deliberately never calls image.Decode or
// image.DecodeConfig: those pick a decoder from whatever formats happen to be
// registered (imaging registers TIFF and BMP), and hostile files must only
// ever reach the four decoders the service accepts.
package imageproc
