package imageproc

import (
	"bytes"
	"encoding/binary"
	"image"

	"github.com/disintegration/imaging"
)

// orientation returns the EXIF orientation (1..8) of a JPEG, WebP or PNG file, or
// 1 when there is none or it cannot be read. A broken EXIF block is not a
// reason to refuse an image that decodes.
func orientation(ct string, data []byte) int {
	var tiff []byte
	switch ct {
	case TypeJPEG:
		tiff = jpegExif(data)
	case TypeWebP:
		tiff = webpExif(data)
	case TypePNG:
		tiff = pngExif(data)
	case TypeHEIC, TypeHEIF, TypeAVIF:
		info, err := parseHEIF(data)
		if err != nil {
			return 1
		}
		return heifOrientationFor(info)
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

var exifHeader = []byte("Exif\x00\x00")

// jpegExif returns the TIFF structure inside the first APP1 Exif segment,
// scanning marker segments up to the start of scan.
func jpegExif(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xFF {
			return nil
		}
		m := data[p+1]
		switch {
		case m == 0xFF: // fill byte
			p++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			p += 2
			continue
		case m == 0xDA || m == 0xD9: // metadata comes before the scan
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return nil
		}
		seg := data[p+4 : p+2+n]
		if m == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):]
		}
		p += 2 + n
	}
	return nil
}

// webpExif returns the TIFF structure of a WebP EXIF chunk. Some writers put
// the "Exif\0\0" prefix from JPEG in front of it, so it is tolerated.
func webpExif(data []byte) []byte {
	if len(data) < 12 {
		return nil
	}
	p := 12
	for p+8 <= len(data) {
		id := string(data[p : p+4])
		n := int(binary.LittleEndian.Uint32(data[p+4:]))
		if n < 0 || n > len(data)-p-8 {
			return nil
		}
		if id == "EXIF" {
			return bytes.TrimPrefix(data[p+8:p+8+n], exifHeader)
		}
		p += 8 + n + n&1
	}
	return nil
}

// pngExif returns the TIFF structure of a PNG eXIf chunk (ImageMagick and
// libvips copy the EXIF of the JPEG they convert into one; browsers and
// libvips turn the image by its orientation). A JPEG-style "Exif\0\0"
// prefix is tolerated.
func pngExif(data []byte) []byte {
	if len(data) < 8 || string(data[:8]) != "\x89PNG\r\n\x1a\n" {
		return nil
	}
	for p := 8; p+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if n < 0 || n > len(data)-p-12 {
			return nil
		}
		switch typ {
		case "eXIf":
			return bytes.TrimPrefix(data[p+8:p+8+n], exifHeader)
		case "IEND":
			return nil
		}
		p += 12 + n
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure in either
// byte order. Every offset is checked against the slice, because the offsets
// come from the uploader.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(b[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(b[4:]))
	if off+2 > uint64(len(b)) {
		return 0
	}
	count := uint64(bo.Uint16(b[off:]))
	for i := uint64(0); i < count; i++ {
		e := off + 2 + 12*i
		if e+12 > uint64(len(b)) {
			return 0
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		if n < 1 {
			return 0
		}
		switch typ {
		case 3: // SHORT, the type the standard prescribes
			return int(bo.Uint16(b[e+8:]))
		case 4: // LONG, written by a few careless tools
			return int(bo.Uint32(b[e+8:]))
		}
		return 0
	}
	return 0
}

// orient applies an EXIF orientation so the image is upright. The value says
// how the stored pixels must be transformed for display.
func orient(img *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}
