package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/heic"

	"uploader/internal/upload"
)

// heifInfo is what the HEIF container (ISO/IEC 23008-12; AVIF is the same
// container with AV1 inside) says about its primary image, read without
// decoding anything. The boxes come from the uploader: every length and
// offset is checked against the data.
type heifInfo struct {
	codec         string // item type of the primary image: "hvc1", "av01", or "grid" (tiles)
	tileCodec     string // for a grid, the item type of its tiles
	width, height int    // ispe of the primary item: the stored size, before irot/imir
	// transforms lists the irot/imir properties of the primary item in
	// the order they apply.
	transforms []heifTransform
	colour     colourSource // colr: an ICC profile (prof, rICC) or nclx code points
	depth      int          // bits per channel from pixi (0: not stated)
	exif       []byte       // TIFF structure of the Exif item, if any
	alpha      bool         // an auxiliary alpha image belongs to the primary one
}

// heifTransform is one irot (value: quarter turns anticlockwise) or imir
// property. For imir, HEIF's Amendment 2 reads the bit as a mode: 0 swaps
// top and bottom, 1 swaps left and right. The 2017 text ("a vertical
// (axis = 0) axis") was read both ways; libheif, iPhones, ImageMagick and
// libavif since 2021 all follow the mode reading.
type heifTransform struct {
	mirror bool
	value  int
}

var errHEIF = errors.New("not a valid HEIF container")

// heifBox walks the boxes of b, calling fn with each type and payload.
// It stops at the first error fn returns, or returns errHEIF for a box
// that does not fit.
func heifBoxes(b []byte, fn func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errHEIF
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0: // to the end of the enclosing box
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return errHEIF
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return errHEIF
		}
		if err := fn(typ, b[hdr:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// parseHEIF reads the ftyp and meta boxes of a HEIF or AVIF file.
func parseHEIF(data []byte) (heifInfo, error) {
	var (
		info   heifInfo
		meta   []byte
		topErr = heifBoxes(data, func(typ string, p []byte) error {
			if typ == "meta" && meta == nil {
				meta = p
			}
			return nil
		})
	)
	// A truncated mdat after a complete meta box is still worth a clear
	// "data ends early" from the decoder rather than a parse error here.
	if meta == nil {
		if topErr != nil {
			return info, topErr
		}
		return info, fmt.Errorf("%w: no meta box", errHEIF)
	}
	if len(meta) < 4 {
		return info, errHEIF
	}
	var (
		primary uint32
		types   = map[uint32]string{}
		ipco    [][]byte // property boxes, each with its 4-byte type in front
		assoc   = map[uint32][]int{}
		iloc    []byte
		iref    []byte
	)
	err := heifBoxes(meta[4:], func(typ string, p []byte) error {
		switch typ {
		case "pitm":
			if len(p) < 6 {
				return errHEIF
			}
			if p[0] == 0 {
				primary = uint32(binary.BigEndian.Uint16(p[4:]))
			} else if len(p) >= 8 {
				primary = binary.BigEndian.Uint32(p[4:])
			}
		case "iinf":
			return parseIINF(p, types)
		case "iprp":
			return heifBoxes(p, func(typ string, p []byte) error {
				switch typ {
				case "ipco":
					return heifBoxes(p, func(typ string, p []byte) error {
						ipco = append(ipco, append([]byte(typ), p...))
						return nil
					})
				case "ipma":
					return parseIPMA(p, assoc)
				}
				return nil
			})
		case "iloc":
			iloc = p
		case "iref":
			iref = p
		}
		return nil
	})
	if err != nil {
		return info, err
	}
	info.codec = types[primary]
	if info.codec == "" {
		return info, fmt.Errorf("%w: no primary image", errHEIF)
	}
	refs := parseIREF(iref)
	if info.codec == "grid" {
		for _, r := range refs {
			if r.typ == "dimg" && r.from == primary && len(r.to) > 0 {
				info.tileCodec = types[r.to[0]]
				break
			}
		}
	}
	for _, idx := range assoc[primary] {
		if idx < 1 || idx > len(ipco) {
			continue
		}
		prop := ipco[idx-1]
		typ, p := string(prop[:4]), prop[4:]
		switch typ {
		case "ispe":
			if len(p) >= 12 {
				info.width = int(binary.BigEndian.Uint32(p[4:]))
				info.height = int(binary.BigEndian.Uint32(p[8:]))
			}
		case "irot":
			if len(p) >= 1 {
				info.transforms = append(info.transforms, heifTransform{value: int(p[0] & 3)})
			}
		case "imir":
			if len(p) >= 1 {
				info.transforms = append(info.transforms, heifTransform{mirror: true, value: int(p[0] & 1)})
			}
		case "colr":
			parseColr(p, &info.colour)
		case "pixi":
			if len(p) >= 6 && p[4] > 0 {
				info.depth = int(p[5])
			}
		}
	}
	for _, r := range refs {
		if r.typ == "auxl" && len(r.to) > 0 && r.to[0] == primary {
			info.alpha = true
		}
		if r.typ == "cdsc" && len(r.to) > 0 && r.to[0] == primary && types[r.from] == "Exif" {
			if ex := itemData(data, iloc, r.from); len(ex) >= 4 {
				off := uint64(binary.BigEndian.Uint32(ex))
				if 4+off <= uint64(len(ex)) {
					info.exif = ex[4+off:]
				}
			}
		}
	}
	return info, nil
}

// parseIINF fills types with the item type of each infe entry (version 2
// and 3, the ones HEIF uses).
func parseIINF(p []byte, types map[uint32]string) error {
	if len(p) < 6 {
		return errHEIF
	}
	skip := 6
	if p[0] != 0 {
		skip = 8
	}
	if len(p) < skip {
		return errHEIF
	}
	return heifBoxes(p[skip:], func(typ string, e []byte) error {
		if typ != "infe" || len(e) < 4 {
			return nil
		}
		switch e[0] {
		case 2:
			if len(e) >= 12 {
				types[uint32(binary.BigEndian.Uint16(e[4:]))] = string(e[8:12])
			}
		case 3:
			if len(e) >= 14 {
				types[binary.BigEndian.Uint32(e[4:])] = string(e[10:14])
			}
		}
		return nil
	})
}

// parseIPMA records, per item, the 1-based ipco indices of its properties
// in their listed order (which is the order transforms apply in).
func parseIPMA(p []byte, assoc map[uint32][]int) error {
	if len(p) < 8 {
		return errHEIF
	}
	version, flags := p[0], p[3]
	n := binary.BigEndian.Uint32(p[4:])
	r := p[8:]
	for range n {
		var id uint32
		if version < 1 {
			if len(r) < 3 {
				return errHEIF
			}
			id, r = uint32(binary.BigEndian.Uint16(r)), r[2:]
		} else {
			if len(r) < 5 {
				return errHEIF
			}
			id, r = binary.BigEndian.Uint32(r), r[4:]
		}
		count := int(r[0])
		r = r[1:]
		for range count {
			if flags&1 != 0 {
				if len(r) < 2 {
					return errHEIF
				}
				assoc[id] = append(assoc[id], int(binary.BigEndian.Uint16(r)&0x7FFF))
				r = r[2:]
			} else {
				if len(r) < 1 {
					return errHEIF
				}
				assoc[id] = append(assoc[id], int(r[0]&0x7F))
				r = r[1:]
			}
		}
	}
	return nil
}

type heifRef struct {
	typ  string
	from uint32
	to   []uint32
}

// parseIREF lists the item references (dimg for grid tiles, auxl for
// alpha, cdsc for metadata such as Exif). A malformed box yields what was
// read before the fault.
func parseIREF(p []byte) []heifRef {
	if len(p) < 4 {
		return nil
	}
	wide := p[0] != 0
	var refs []heifRef
	_ = heifBoxes(p[4:], func(typ string, b []byte) error {
		id := func() (uint32, bool) {
			if wide {
				if len(b) < 4 {
					return 0, false
				}
				v := binary.BigEndian.Uint32(b)
				b = b[4:]
				return v, true
			}
			if len(b) < 2 {
				return 0, false
			}
			v := uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
			return v, true
		}
		from, ok := id()
		if !ok || len(b) < 2 {
			return nil
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		r := heifRef{typ: typ, from: from}
		for range n {
			to, ok := id()
			if !ok {
				break
			}
			r.to = append(r.to, to)
		}
		refs = append(refs, r)
		return nil
	})
	return refs
}

// parseColr reads a colr property: nclx code points or an ICC profile.
// The first of each kind wins; a file may carry both.
func parseColr(p []byte, c *colourSource) {
	if len(p) < 4 {
		return
	}
	switch string(p[:4]) {
	case "nclx":
		if len(p) >= 11 && c.CICP == nil {
			c.CICP = &cicp{
				Primaries: binary.BigEndian.Uint16(p[4:]),
				Transfer:  binary.BigEndian.Uint16(p[6:]),
				Matrix:    binary.BigEndian.Uint16(p[8:]),
				FullRange: p[10]&0x80 != 0,
			}
		}
	case "prof", "rICC":
		if c.ICC == nil && len(p) > 4 {
			c.ICC = bytes.Clone(p[4:])
		}
	}
}

// itemData returns the bytes of an item stored in the file itself
// (iloc construction method 0), joining its extents, or nil.
func itemData(data, iloc []byte, item uint32) []byte {
	if len(iloc) < 8 {
		return nil
	}
	version := iloc[0]
	offSize, lenSize := int(iloc[4]>>4), int(iloc[4]&15)
	baseSize, idxSize := int(iloc[5]>>4), int(iloc[5]&15)
	if version == 0 {
		idxSize = 0
	}
	r := iloc[6:]
	uint := func(n int) (uint64, bool) {
		if n != 0 && n != 4 && n != 8 || len(r) < n {
			return 0, false
		}
		var v uint64
		for _, c := range r[:n] {
			v = v<<8 | uint64(c)
		}
		r = r[n:]
		return v, true
	}
	var count uint64
	var ok bool
	if version < 2 {
		if len(r) < 2 {
			return nil
		}
		count, r = uint64(binary.BigEndian.Uint16(r)), r[2:]
	} else if count, ok = uint(4); !ok {
		return nil
	}
	for range count {
		var id uint64
		if version < 2 {
			if len(r) < 2 {
				return nil
			}
			id, r = uint64(binary.BigEndian.Uint16(r)), r[2:]
		} else if id, ok = uint(4); !ok {
			return nil
		}
		method := 0
		if version >= 1 {
			if len(r) < 2 {
				return nil
			}
			method, r = int(binary.BigEndian.Uint16(r)&15), r[2:]
		}
		if len(r) < 2 {
			return nil
		}
		r = r[2:] // data_reference_index
		base, ok := uint(baseSize)
		if !ok || len(r) < 2 {
			return nil
		}
		extents := int(binary.BigEndian.Uint16(r))
		r = r[2:]
		var out []byte
		for range extents {
			if _, ok := uint(idxSize); !ok {
				return nil
			}
			off, ok1 := uint(offSize)
			n, ok2 := uint(lenSize)
			if !ok1 || !ok2 {
				return nil
			}
			start := base + off
			if n == 0 {
				n = uint64(len(data)) - min(start, uint64(len(data)))
			}
			if start > uint64(len(data)) || n > uint64(len(data))-start || len(out)+int(n) > 1<<20 {
				return nil
			}
			out = append(out, data[start:start+n]...)
		}
		if uint32(id) == item {
			if method != 0 {
				return nil
			}
			return out
		}
	}
	return nil
}

// heifOrientation turns the primary item's irot/imir properties, applied
// in order, into the EXIF orientation (1..8) that does the same.
func heifOrientation(ts []heifTransform) int {
	// A 2×2 matrix acting on (x, y) with y pointing down; each EXIF
	// orientation is one of the eight.
	m := [4]int{1, 0, 0, 1}
	mul := func(a [4]int) { // m = a·m
		m = [4]int{a[0]*m[0] + a[1]*m[2], a[0]*m[1] + a[1]*m[3], a[2]*m[0] + a[3]*m[2], a[2]*m[1] + a[3]*m[3]}
	}
	for _, t := range ts {
		switch {
		case t.mirror && t.value == 0:
			mul([4]int{1, 0, 0, -1}) // top and bottom swap
		case t.mirror:
			mul([4]int{-1, 0, 0, 1}) // left and right swap
		default:
			for range t.value {
				mul([4]int{0, 1, -1, 0}) // a quarter turn anticlockwise: (x, y) -> (y, -x)
			}
		}
	}
	exif := map[[4]int]int{
		{1, 0, 0, 1}: 1, {-1, 0, 0, 1}: 2, {-1, 0, 0, -1}: 3, {1, 0, 0, -1}: 4,
		{0, 1, 1, 0}: 5, {0, -1, 1, 0}: 6, {0, -1, -1, 0}: 7, {0, 1, -1, 0}: 8,
	}
	return exif[m]
}

// heifConfig checks what the container declares before anything is
// decoded: a primary image in a codec we can decode, and its size. The
// size is the displayed one for HEIC (libheif applies irot/imir while
// decoding) and the stored one for AVIF (libavif does not; the pipeline
// orients it like an EXIF-tagged JPEG).
func heifConfig(ct string, data []byte) (image.Config, heifInfo, error) {
	info, err := parseHEIF(data)
	if err != nil {
		return image.Config{}, info, corrupt(ct, err)
	}
	codec := info.codec
	if codec == "grid" {
		codec = info.tileCodec
	}
	switch codec {
	case "hvc1", "av01":
	default:
		return image.Config{}, info, upload.Errorf(upload.EUNSUPPORTED,
			"This %s file holds an image coded as %q, which we cannot decode; HEIC (HEVC) and AVIF (AV1) images are accepted.", kindOf(ct), codec)
	}
	if info.width <= 0 || info.height <= 0 {
		return image.Config{}, info, upload.Errorf(upload.ECORRUPT,
			"The file is damaged or incomplete: the %s image does not say its size (no ispe property).", kindOf(ct))
	}
	cfg := image.Config{Width: info.width, Height: info.height}
	if codec == "hvc1" && heifOrientation(info.transforms) >= 5 {
		cfg.Width, cfg.Height = cfg.Height, cfg.Width
	}
	if codec == "hvc1" && cfg.Width < minHEICWidth && heic.Dynamic() != nil {
		return cfg, info, upload.Errorf(upload.EUNSUPPORTED,
			"This HEIC image is only %d pixels wide; HEIC images narrower than %d pixels cannot be read here. Please send it as a JPEG or PNG.", cfg.Width, minHEICWidth)
	}
	return cfg, info, nil
}

// minHEICWidth: the WebAssembly build of gen2brain/heic (v0.4.5, libheif
// 1.18) assumes planes padded to 16 bytes, but libheif pads rows to at
// least 64: below 128 pixels (64 chroma samples) it returns misplaced
// chroma or fails with an out-of-bounds access inside the module. Such
// files are refused with a sentence instead. A system libheif, when the
// library finds one, has no such limit.
const minHEICWidth = 128

// heifOrientationFor says how the pipeline must still turn a decoded HEIF
// or AVIF image. libheif has already applied irot/imir to HEVC images;
// libavif applies neither, so for AV1 they are applied here. EXIF
// orientation counts only when the container has no irot or imir (files
// converted from a JPEG by tools that copy EXIF but write no irot):
// HEIF says irot/imir rule, and iPhones write both, which must not turn
// the photo twice.
func heifOrientationFor(info heifInfo) int {
	if len(info.transforms) > 0 {
		if info.codec == "av01" || info.tileCodec == "av01" {
			return heifOrientation(info.transforms)
		}
		return 1
	}
	if o := tiffOrientation(info.exif); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

// decodeHEIF decodes the primary image with the cgo-free WebAssembly build
// of libheif/libde265 (HEVC) or libavif/libaom (AV1), then converts it to
// sRGB from what the colr property says.
func decodeHEIF(ct string, data []byte, cfg image.Config) (image.Image, error) {
	_, info, err := heifConfig(ct, data)
	if err != nil {
		return nil, err
	}
	var img image.Image
	if info.codec == "av01" || info.tileCodec == "av01" {
		img, err = avif.Decode(bytes.NewReader(data))
	} else {
		img, err = heic.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, corrupt(ct, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s container says %d×%d pixels but the image is %d×%d.",
			kindOf(ct), cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return toSRGB(img, info.colour)
}
