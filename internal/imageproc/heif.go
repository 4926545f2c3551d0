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
	// coded lists the size of each coded image the decoder will decode
	// (the primary image, or every tile of a grid), read from the codec's
	// own headers (the HEVC SPS in hvcC, the AV1 sequence header); {0, 0}
	// where it could not be read. With the grid descriptor it shows a file
	// whose ispe understates what decoding it costs.
	coded []codedSize
	// grid is the grid item's descriptor: rows, columns, output size.
	grid *heifGrid
}

type codedSize struct{ w, h, ispeW, ispeH int }

type heifGrid struct{ rows, cols, w, h int }

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
		idat    []byte
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
		case "idat":
			idat = p
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
	// codedOf reads an image item's coded size from its codec headers.
	codedOf := func(item uint32) codedSize {
		var c codedSize
		for _, idx := range assoc[item] {
			if idx < 1 || idx > len(ipco) {
				continue
			}
			prop := ipco[idx-1]
			switch typ, p := string(prop[:4]), prop[4:]; typ {
			case "ispe":
				if len(p) >= 12 {
					c.ispeW, c.ispeH = int(binary.BigEndian.Uint32(p[4:])), int(binary.BigEndian.Uint32(p[8:]))
				}
			case "hvcC":
				c.w, c.h = hevcSize(p)
			case "av1C":
				if len(p) > 4 && c.w == 0 {
					c.w, c.h = av1Size(p[4:])
				}
			}
		}
		if c.w == 0 && types[item] == "av01" {
			// No sequence header in av1C: it starts the item's own data.
			c.w, c.h = av1Size(itemPrefix(data, iloc, idat, item, 4096))
		}
		return c
	}
	if info.codec == "grid" {
		for _, r := range refs {
			if r.typ == "dimg" && r.from == primary && len(r.to) > 0 {
				info.tileCodec = types[r.to[0]]
				for _, tile := range r.to {
					info.coded = append(info.coded, codedOf(tile))
				}
				break
			}
		}
		info.grid = parseGrid(itemPrefix(data, iloc, idat, primary, 64))
	} else {
		info.coded = []codedSize{codedOf(primary)}
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

// itemPrefix returns up to n bytes from the start of an item, stored in
// the file (iloc construction method 0) or in the idat box (method 1).
func itemPrefix(data, iloc, idat []byte, item uint32, n int) []byte {
	if b := itemBytes(data, iloc, item, 0, n); b != nil {
		return b
	}
	return itemBytes(idat, iloc, item, 1, n)
}

// itemData returns the bytes of an item stored in the file itself
// (iloc construction method 0), joining its extents, or nil.
func itemData(data, iloc []byte, item uint32) []byte {
	return itemBytes(data, iloc, item, 0, 1<<20)
}

// itemBytes returns at most limit bytes of an item whose iloc entry has
// construction method want, with offsets into data; nil otherwise.
func itemBytes(data, iloc []byte, item uint32, want, limit int) []byte {
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
			if uint32(id) != item || method != want || len(out) >= limit {
				continue
			}
			start := base + off
			if n == 0 {
				n = uint64(len(data)) - min(start, uint64(len(data)))
			}
			if start > uint64(len(data)) || n > uint64(len(data))-start {
				return nil
			}
			out = append(out, data[start:start+min(n, uint64(limit-len(out)))]...)
		}
		if uint32(id) == item {
			if method != want {
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

// codedSlack is how far a coded picture may exceed its ispe: HEVC and AV1
// code whole blocks and crop (a 200×150 HEIC is coded 200×152).
const codedSlack = 64

// checkCoded compares what the codec headers say will be decoded with
// the container's ispe, which the pixel limit and the memory estimate
// used. A file whose ispe understates its coded pictures (a 200×150 box
// around a 16000×16000 stream) would otherwise cost what no estimate
// allowed before the decoder noticed; such files are refused undecoded.
func checkCoded(ct string, info heifInfo) error {
	bad := func(w, h int) error {
		return upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s container says %d×%d pixels but its image data is %d×%d.",
			kindOf(ct), info.width, info.height, w, h)
	}
	unreadable := upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s image data does not say its size.", kindOf(ct))
	if info.codec != "grid" {
		if len(info.coded) != 1 || info.coded[0].w == 0 {
			return unreadable
		}
		if c := info.coded[0]; c.w > info.width+codedSlack || c.h > info.height+codedSlack {
			return bad(c.w, c.h)
		}
		return nil
	}
	g := info.grid
	if g == nil || len(info.coded) == 0 || len(info.coded) != g.rows*g.cols {
		return upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s image grid does not match its tiles.", kindOf(ct))
	}
	if g.w != info.width || g.h != info.height {
		return bad(g.w, g.h)
	}
	t := info.coded[0]
	for _, c := range info.coded {
		if c.w == 0 {
			return unreadable
		}
		if c.w > c.ispeW+codedSlack || c.h > c.ispeH+codedSlack || c.ispeW != t.ispeW || c.ispeH != t.ispeH {
			return bad(c.w, c.h)
		}
	}
	// The tiles cover the output, overlapping it by less than one tile.
	if g.cols*t.ispeW < g.w || (g.cols-1)*t.ispeW >= g.w || g.rows*t.ispeH < g.h || (g.rows-1)*t.ispeH >= g.h {
		return upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s image grid does not match its tiles.", kindOf(ct))
	}
	return nil
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
	// After the pixel limit (a bomb is told so) and before any decoder
	// allocates: the codec's own headers must agree with ispe.
	if err := checkCoded(ct, info); err != nil {
		return nil, err
	}
	var img image.Image
	if info.codec == "av01" || info.tileCodec == "av01" {
		img, err = avif.Decode(bytes.NewReader(data))
	} else {
		img, err = heic.Decode(bytes.NewReader(data))
	}
	if err != nil {
		// The WebAssembly decoders report a trap with its stack trace, or
		// a bare "decode failed": neither helps a person.
		return nil, corrupt(ct, nil)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, upload.Errorf(upload.ECORRUPT, "The file is damaged or incomplete: the %s container says %d×%d pixels but the image is %d×%d.",
			kindOf(ct), cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return toSRGB(img, info.colour)
}

// bitReader reads big-endian bit fields, as codec headers are written.
// Reading past the end yields zeros and sets short.
type bitReader struct {
	b     []byte
	pos   int
	short bool
}

func (r *bitReader) u(n int) uint64 {
	var v uint64
	for range n {
		if r.pos>>3 >= len(r.b) {
			r.short = true
			return 0
		}
		v = v<<1 | uint64(r.b[r.pos>>3]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v
}

// ue reads an Exp-Golomb code (HEVC's ue(v)).
func (r *bitReader) ue() uint64 {
	zeros := 0
	for r.u(1) == 0 {
		if zeros++; zeros > 31 || r.short {
			r.short = true
			return 0
		}
	}
	return 1<<zeros - 1 + r.u(zeros)
}

// hevcSize reads pic_width/height_in_luma_samples from the first SPS in
// an hvcC box, or returns 0, 0.
func hevcSize(p []byte) (w, h int) {
	if len(p) < 23 {
		return 0, 0
	}
	n := int(p[22])
	q := p[23:]
	for range n {
		if len(q) < 3 {
			return 0, 0
		}
		typ := q[0] & 0x3F
		count := int(binary.BigEndian.Uint16(q[1:]))
		q = q[3:]
		for range count {
			if len(q) < 2 {
				return 0, 0
			}
			size := int(binary.BigEndian.Uint16(q))
			if len(q) < 2+size {
				return 0, 0
			}
			if typ == 33 { // SPS
				return spsSize(q[2 : 2+size])
			}
			q = q[2+size:]
		}
	}
	return 0, 0
}

// spsSize parses an HEVC SPS NAL unit (ITU-T H.265 7.3.2.2) up to the
// picture size.
func spsSize(nal []byte) (w, h int) {
	// Drop emulation prevention bytes (00 00 03).
	rbsp := make([]byte, 0, min(len(nal), 256))
	for i := 2; i < len(nal) && len(rbsp) < 256; i++ {
		if i >= 4 && nal[i] == 3 && nal[i-1] == 0 && nal[i-2] == 0 {
			continue
		}
		rbsp = append(rbsp, nal[i])
	}
	r := &bitReader{b: rbsp}
	r.u(4) // sps_video_parameter_set_id
	sub := int(r.u(3))
	r.u(1)  // temporal_id_nesting
	r.u(88) // general profile space, tier, idc, compatibility and constraint flags
	r.u(8)  // general_level_idc
	profile, level := make([]bool, sub), make([]bool, sub)
	for i := range sub {
		profile[i], level[i] = r.u(1) == 1, r.u(1) == 1
	}
	if sub > 0 {
		r.u(2 * (8 - sub))
	}
	for i := range sub {
		if profile[i] {
			r.u(88)
		}
		if level[i] {
			r.u(8)
		}
	}
	r.ue() // sps_seq_parameter_set_id
	if r.ue() == 3 {
		r.u(1) // separate_colour_plane_flag
	}
	w, h = int(r.ue()), int(r.ue())
	if r.short {
		return 0, 0
	}
	return w, h
}

// av1Size reads max_frame_width/height from the first AV1 sequence header
// OBU in b (an av1C box's configOBUs, or the start of an item), or 0, 0.
func av1Size(b []byte) (w, h int) {
	for len(b) >= 2 {
		hdr := b[0]
		typ := hdr >> 3 & 15
		ext := hdr>>2&1 == 1
		hasSize := hdr>>1&1 == 1
		q := b[1:]
		if ext {
			q = q[1:]
		}
		size := len(q)
		if hasSize {
			var v uint64
			i := 0
			for ; i < 8 && i < len(q); i++ {
				v |= uint64(q[i]&0x7F) << (7 * i)
				if q[i]&0x80 == 0 {
					break
				}
			}
			if i >= len(q) || v > uint64(len(q)-i-1) {
				return 0, 0
			}
			q, size = q[i+1:], int(v)
		}
		if typ == 1 { // OBU_SEQUENCE_HEADER
			return seqHeaderSize(q[:size])
		}
		b = q[size:]
	}
	return 0, 0
}

// seqHeaderSize parses an AV1 sequence header (AV1 spec 5.5) up to
// max_frame_width/height.
func seqHeaderSize(b []byte) (w, h int) {
	r := &bitReader{b: b}
	r.u(3)           // seq_profile
	r.u(1)           // still_picture
	if r.u(1) == 1 { // reduced_still_picture_header
		r.u(5)
	} else {
		decoderModel := false
		bufferDelay := 0
		if r.u(1) == 1 { // timing_info_present_flag
			r.u(64)
			if r.u(1) == 1 { // equal_picture_interval: uvlc
				zeros := 0
				for r.u(1) == 0 && !r.short && zeros < 32 {
					zeros++
				}
				r.u(zeros)
			}
			if r.u(1) == 1 { // decoder_model_info_present_flag
				decoderModel = true
				bufferDelay = int(r.u(5)) + 1
				r.u(32 + 5 + 5)
			}
		}
		initialDelay := r.u(1) == 1
		ops := int(r.u(5)) + 1
		for range ops {
			r.u(12)
			if r.u(5) > 7 {
				r.u(1)
			}
			if decoderModel && r.u(1) == 1 {
				r.u(2*bufferDelay + 1)
			}
			if initialDelay && r.u(1) == 1 {
				r.u(4)
			}
		}
	}
	wb, hb := int(r.u(4))+1, int(r.u(4))+1
	w, h = int(r.u(wb))+1, int(r.u(hb))+1
	if r.short {
		return 0, 0
	}
	return w, h
}

// parseGrid reads an ImageGrid descriptor (HEIF 6.6.2.3.2).
func parseGrid(b []byte) *heifGrid {
	if len(b) < 8 {
		return nil
	}
	g := &heifGrid{rows: int(b[2]) + 1, cols: int(b[3]) + 1}
	if b[1]&1 == 0 {
		g.w, g.h = int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:]))
	} else if len(b) >= 12 {
		g.w, g.h = int(binary.BigEndian.Uint32(b[4:])), int(binary.BigEndian.Uint32(b[8:]))
	} else {
		return nil
	}
	return g
}
