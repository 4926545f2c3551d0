package imageproc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"

	"uploader/internal/imageproc/internal/icc"
)

// colourOf reads what a JPEG, PNG or WebP file says about its colour
// space, without decoding pixels. Anything unreadable counts as untagged:
// a damaged profile is not a reason to refuse a photo that decodes, and
// browsers show such files as sRGB too.
func colourOf(ct string, data []byte) colourSource {
	switch ct {
	case TypeJPEG:
		return colourSource{ICC: jpegICC(data)}
	case TypePNG:
		return pngColour(data)
	case TypeWebP:
		return colourSource{ICC: webpICC(data)}
	}
	return colourSource{}
}

var iccHeader = []byte("ICC_PROFILE\x00")

// jpegICC joins the APP2 ICC_PROFILE segments of a JPEG in the order of
// their sequence numbers (ICC.1 Annex B.4). A profile with a missing,
// repeated or inconsistent segment is dropped whole, as libjpeg does.
func jpegICC(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	var chunks [256][]byte
	count, seen := 0, 0
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xFF {
			break
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
			break
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			break
		}
		seg := data[p+4 : p+2+n]
		p += 2 + n
		if m != 0xE2 || len(seg) < 14 || !bytes.HasPrefix(seg, iccHeader) {
			continue
		}
		seq, cnt := int(seg[12]), int(seg[13])
		if cnt == 0 || seq == 0 || seq > cnt || (count != 0 && cnt != count) || chunks[seq] != nil {
			return nil
		}
		count = cnt
		chunks[seq] = seg[14:]
		seen++
	}
	if seen == 0 || seen != count {
		return nil
	}
	var out []byte
	for _, c := range chunks[1 : count+1] {
		out = append(out, c...)
	}
	return out
}

// webpICC returns the ICCP chunk of an extended (VP8X) WebP whose flags
// say it has one.
func webpICC(data []byte) []byte {
	if len(data) < 30 || string(data[12:16]) != "VP8X" || data[20]&0x20 == 0 {
		return nil
	}
	for p := 12; p+8 <= len(data); {
		size := int(binary.LittleEndian.Uint32(data[p+4:]))
		if size < 0 || p+8+size > len(data) {
			return nil
		}
		if string(data[p:p+4]) == "ICCP" {
			return data[p+8 : p+8+size]
		}
		p += 8 + size + size&1
	}
	return nil
}

// pngColour reads the colour chunks before the first IDAT, with the
// precedence of the PNG specification (third edition): cICP, then iCCP,
// then sRGB, then cHRM and gAMA.
func pngColour(data []byte) colourSource {
	var (
		src        colourSource
		gamma      float64
		chroma     *[4][2]float64
		isSRGB     bool
		iccp, cicP []byte
	)
	for p := 8; p+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		if n < 0 || n > len(data)-p-12 {
			break
		}
		typ, body := string(data[p+4:p+8]), data[p+8:p+8+n]
		crcOK := crc32.ChecksumIEEE(data[p+4:p+8+n]) == binary.BigEndian.Uint32(data[p+8+n:])
		p += 12 + n
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		if !crcOK {
			continue // a damaged chunk says nothing reliable
		}
		switch typ {
		case "cICP":
			cicP = body
		case "iCCP":
			iccp = body
		case "sRGB":
			isSRGB = true
		case "gAMA":
			if n == 4 {
				gamma = float64(binary.BigEndian.Uint32(body)) / 100000
			}
		case "cHRM":
			if n == 32 {
				var c [4][2]float64
				for i := range 8 {
					v := float64(binary.BigEndian.Uint32(body[4*i:])) / 100000
					// The chunk lists white first, then red, green, blue.
					c[(i/2+3)%4][i%2] = v
				}
				if c[0][1] > 0 && c[1][1] > 0 && c[2][1] > 0 && c[3][1] > 0 {
					chroma = &c
				}
			}
		}
	}
	switch {
	case len(cicP) == 4:
		src.CICP = &cicp{Primaries: uint16(cicP[0]), Transfer: uint16(cicP[1]), Matrix: uint16(cicP[2]), FullRange: cicP[3] != 0}
	case iccp != nil:
		src.ICC = pngICCP(iccp)
	case isSRGB:
	case gamma > 0 || chroma != nil:
		if srgbLike(gamma, chroma) {
			break
		}
		src.Gamma, src.Chroma = gamma, chroma
	}
	return src
}

// srgbLike reports whether gAMA and cHRM are the values the PNG
// specification recommends writing alongside an sRGB chunk (gamma
// 0.45455, sRGB's chromaticities) or the gamma alone. ImageMagick writes
// exactly these for every sRGB image, without the sRGB chunk; like libpng
// and ImageMagick itself, such a file is read as sRGB rather than as a
// pure 2.2 power curve, which differs only in the deepest shadows.
func srgbLike(gamma float64, chroma *[4][2]float64) bool {
	if gamma != 0 && (gamma < 0.4540 || gamma > 0.4551) {
		return false
	}
	if chroma == nil {
		return gamma != 0
	}
	for i, want := range icc.SRGBPrimaries {
		if math.Abs(chroma[i][0]-want[0]) > 0.001 || math.Abs(chroma[i][1]-want[1]) > 0.001 {
			return false
		}
	}
	return true
}

// pngICCP inflates an iCCP chunk: a name, a NUL, compression method 0 and
// a zlib stream, read no further than icc.MaxSize.
func pngICCP(body []byte) []byte {
	i := bytes.IndexByte(body, 0)
	if i < 1 || i > 79 || i+2 > len(body) || body[i+1] != 0 {
		return nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(body[i+2:]))
	if err != nil {
		return nil
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, icc.MaxSize+1))
	if err != nil || len(b) > icc.MaxSize {
		return nil
	}
	return b
}
