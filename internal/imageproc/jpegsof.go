package imageproc

import (
	"encoding/binary"
	"errors"
	"image/jpeg"

	"uploader/internal/imageproc/internal/jpegscale"
	"uploader/internal/upload"
)

// jpegCoding refuses, in words a person can act on, the JPEG codings that
// the decoder cannot read: arithmetic coding (cjpeg -arithmetic, some
// scanners), lossless and hierarchical JPEG, and samples of more than 8
// bits. Without this they would be reported as damaged, which they are
// not. It reads only the marker segments before the first scan.
func jpegCoding(data []byte) error {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xFF {
			return nil
		}
		m := data[p+1]
		if m == 0xFF {
			p++
			continue
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			p += 2
			continue
		}
		if m == 0xDA || m == 0xD9 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return nil
		}
		var how string
		switch m {
		case 0xC9, 0xCA, 0xCB:
			how = "arithmetic coding"
		case 0xCD, 0xCE, 0xCF:
			how = "hierarchical arithmetic coding"
		case 0xC3:
			how = "lossless coding"
		case 0xC5, 0xC6, 0xC7:
			how = "hierarchical coding"
		case 0xC0, 0xC1, 0xC2:
			if n >= 3 && data[p+4] != 8 {
				return upload.Errorf(upload.EUNSUPPORTED, "This JPEG has %d-bit samples; only 8-bit JPEGs can be read. Save it again as an ordinary 8-bit JPEG.", data[p+4])
			}
			return nil
		}
		if how != "" {
			return upload.Errorf(upload.EUNSUPPORTED, "This JPEG uses %s, which the image decoder cannot read. Save it again as an ordinary (baseline or progressive) JPEG.", how)
		}
		p += 2 + n
	}
	return nil
}

// jpegUnsupported turns a decoder's "unsupported feature" error into a
// refusal that says so, instead of calling a valid file damaged; other
// errors come back as they were.
func jpegUnsupported(err error) error {
	var a jpegscale.UnsupportedError
	var b jpeg.UnsupportedError
	var what string
	switch {
	case errors.As(err, &a):
		what = string(a)
	case errors.As(err, &b):
		what = string(b)
	default:
		return err
	}
	return upload.Errorf(upload.EUNSUPPORTED, "This JPEG uses a feature the image decoder cannot read (%s). Save it again as an ordinary baseline or progressive JPEG.", what)
}
