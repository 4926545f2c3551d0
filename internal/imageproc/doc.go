// Package imageproc turns uploaded bytes into published renditions: it sniffs
// the type, enforces the pixel limits before any pixel buffer exists, decodes
// once with the decoder of the sniffed type, auto-orients from EXIF, resizes in
// a cascade, re-encodes without metadata and optionally runs the optimizer
// tools found on PATH.
//
// Everything here is a pure function of its input bytes; the package does no
// storage or network I/O. It deliberately never calls image.Decode or
// image.DecodeConfig: those pick a decoder from whatever formats happen to be
// registered (imaging registers TIFF and BMP), and hostile files must only
// ever reach the four decoders the service accepts.
package imageproc
