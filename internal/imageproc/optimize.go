package imageproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/gen2brain/avif"
	"golang.org/x/image/webp"

	"github.com/disintegration/imaging"
)

// optimizerTools are the programs NewOptimizer looks for: the PNG
// optimizers, and cwebp, which encodes WebP. Process never hands the
// optimizer a JPEG (the encoder already writes what jpegtran would), a GIF
// (no output is one) or a lossless WebP (WebP outputs are lossy), so there
// are no steps for those.
var optimizerTools = []string{"optipng", "advpng", "zopflipng", "cwebp", "pngquant"}

// Optimizer runs the lossless (and, when allowed, lossy) optimizers found on
// PATH, like ImageOptim does, and keeps the smallest result that is still the
// same image. It is safe for concurrent use.
type Optimizer struct {
	timeout time.Duration
	paths   map[string]string
}

// NewOptimizer finds the optimizer tools on PATH. Each run of a tool is
// bounded by timeout (0: 30 s). It may find none; then Optimize returns its
// input unchanged.
func NewOptimizer(timeout time.Duration) *Optimizer {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	o := &Optimizer{timeout: timeout, paths: map[string]string{}}
	for _, t := range optimizerTools {
		if p, err := exec.LookPath(t); err == nil {
			o.paths[t] = p
		}
	}
	return o
}

// Tools returns the names of the tools found, sorted.
func (o *Optimizer) Tools() []string {
	var ts []string
	for t := range o.paths {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// step is one way of running a tool: args builds the command line from the
// input and output paths; inPlace tools rewrite a copy of the input instead.
type step struct {
	tool     string
	args     func(in, out string) []string
	inPlace  bool
	lossless bool // the result must decode to identical pixels
	then     []step
}

func (o *Optimizer) steps(contentType string, lossy bool) []step {
	if contentType != TypePNG {
		return nil
	}
	pngLossless := []step{
		{tool: "optipng", lossless: true, args: func(in, out string) []string {
			return []string{"-quiet", "-o2", "-strip", "all", "-out", out, in}
		}},
		{tool: "zopflipng", lossless: true, args: func(in, out string) []string {
			return []string{"-y", "--lossy_transparent=false", in, out}
		}},
		{tool: "advpng", lossless: true, inPlace: true, args: func(in, _ string) []string {
			return []string{"-z", "-3", "-q", in}
		}},
	}
	ss := pngLossless
	if lossy {
		// pngquant exits 99 when it cannot reach the minimum quality;
		// that is a skip, like any other failure.
		ss = append(ss, step{tool: "pngquant", args: func(in, out string) []string {
			return []string{"--quality=70-95", "--speed", "3", "--strip", "--force", "--output", out, in}
		}, then: pngLossless})
	}
	return ss
}

// Optimize runs the PNG optimizers and keeps the smallest output that
// still decodes to the same dimensions (and, for lossless steps, the same
// pixels). lossy permits pngquant. A tool that is missing, fails, times out
// or produces something unacceptable is skipped; the only error returned is
// ctx's, so a broken tool never fails an upload.
func (o *Optimizer) Optimize(ctx context.Context, contentType string, data []byte, lossy bool) ([]byte, error) {
	if o == nil || len(o.paths) == 0 {
		return data, nil
	}
	steps := o.steps(contentType, lossy)
	if len(steps) == 0 {
		return data, nil
	}
	ref, err := decodeAny(contentType, data)
	if err != nil {
		return data, nil // not ours to judge: nothing to compare against
	}
	dir, err := os.MkdirTemp("", "imageproc-opt-*")
	if err != nil {
		return data, nil
	}
	defer os.RemoveAll(dir)

	best := data
	// run applies steps to in, whose decoded pixels are ref. Steps chained
	// after a lossy one are checked against that step's output, not the
	// original: lossless means "changes nothing further".
	var run func(steps []step, in []byte, ref image.Image)
	run = func(steps []step, in []byte, ref image.Image) {
		for _, s := range steps {
			if ctx.Err() != nil {
				return
			}
			out, ok := o.run(ctx, dir, s, contentType, in)
			if !ok || !sameImage(contentType, ref, out, s.lossless) {
				continue
			}
			if len(out) < len(best) {
				best = out
			}
			if len(s.then) > 0 {
				if outRef, err := decodeAny(contentType, out); err == nil {
					run(s.then, out, outRef)
				}
			}
		}
	}
	run(steps, data, ref)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return best, nil
}

// run executes one step on a temp file and returns its output bytes.
func (o *Optimizer) run(ctx context.Context, dir string, s step, contentType string, in []byte) ([]byte, bool) {
	path, ok := o.paths[s.tool]
	if !ok {
		return nil, false
	}
	ext := map[string]string{TypeJPEG: ".jpg", TypePNG: ".png", TypeGIF: ".gif", TypeWebP: ".webp"}[contentType]
	f, err := os.CreateTemp(dir, s.tool+"-in-*"+ext)
	if err != nil {
		return nil, false
	}
	inPath := f.Name()
	_, werr := f.Write(in)
	if cerr := f.Close(); werr != nil || cerr != nil {
		return nil, false
	}
	defer os.Remove(inPath)
	outPath := filepath.Join(dir, filepath.Base(inPath)+".out"+ext)
	defer os.Remove(outPath)

	tctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, path, s.args(inPath, outPath)...)
	cmd.Dir = dir
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return nil, false
	}
	var out []byte
	if s.inPlace {
		out, err = os.ReadFile(inPath)
	} else {
		out, err = os.ReadFile(outPath)
	}
	if err != nil || len(out) == 0 {
		return nil, false
	}
	return out, true
}

// decodeAny decodes with the decoder of the given type. The optimizer only
// sees bytes Process encoded (or the caller vouches for), but a tool's
// output is untrusted, hence the recover.
func decodeAny(contentType string, data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, errors.New("imageproc: decoder panic")
		}
	}()
	r := bytes.NewReader(data)
	switch contentType {
	case TypeJPEG:
		return jpeg.Decode(r)
	case TypePNG:
		return png.Decode(r)
	case TypeGIF:
		return gif.Decode(r)
	case TypeWebP:
		return webp.Decode(r)
	case TypeAVIF:
		return avif.Decode(r)
	}
	return nil, errors.New("imageproc: unknown type " + contentType)
}

// sameImage checks a tool's output against the reference decode: same
// dimensions always, and the same pixels for lossless steps. Fully
// transparent pixels compare equal whatever their colour, since optimizers
// may legitimately zero it.
func sameImage(contentType string, ref image.Image, out []byte, lossless bool) bool {
	m, err := decodeAny(contentType, out)
	if err != nil || m.Bounds().Size() != ref.Bounds().Size() {
		return false
	}
	if !lossless {
		return true
	}
	na, nb := imaging.Clone(ref), imaging.Clone(m)
	for i := 0; i+3 < len(na.Pix); i += 4 {
		if na.Pix[i+3] == 0 && nb.Pix[i+3] == 0 {
			continue
		}
		if [4]byte(na.Pix[i:i+4]) != [4]byte(nb.Pix[i:i+4]) {
			return false
		}
	}
	return true
}

// hasWebPEncoder reports whether the optimizer can encode WebP natively.
func (o *Optimizer) hasWebPEncoder() bool {
	if o == nil {
		return false
	}
	_, ok := o.paths["cwebp"]
	return ok
}

// encodeWebP encodes m with cwebp, for when the system's libwebp cannot
// be loaded into the process (see nativeWebP) but cwebp exists: the same
// library natively, several times faster than its WebAssembly build.
// Optimizing a lossy WebP afterwards would mean a second lossy
// generation, so when cwebp exists it is used as the encoder itself. The
// pixels go over as PAM, which costs nothing to write. ok is false when
// anything goes wrong; the caller then encodes in Go.
func (o *Optimizer) encodeWebP(ctx context.Context, m *image.NRGBA, quality int, alpha bool) (out []byte, ok bool) {
	path, found := o.paths["cwebp"]
	if !found {
		return nil, false
	}
	dir, err := os.MkdirTemp("", "imageproc-webp-*")
	if err != nil {
		return nil, false
	}
	defer os.RemoveAll(dir)
	in, outPath := filepath.Join(dir, "in.pam"), filepath.Join(dir, "out.webp")
	if err := os.WriteFile(in, pam(m, alpha), 0o600); err != nil {
		return nil, false
	}
	tctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, path, "-quiet", "-mt", "-m", "4", "-q", strconv.Itoa(quality),
		"-metadata", "none", in, "-o", outPath)
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return nil, false
	}
	out, err = os.ReadFile(outPath)
	if err != nil {
		return nil, false
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(out))
	if err != nil || cfg.Width != m.Rect.Dx() || cfg.Height != m.Rect.Dy() {
		return nil, false
	}
	return out, true
}

// pam writes m as a Netpbm PAM file, RGB or RGB_ALPHA (PAM alpha is not
// premultiplied, like NRGBA).
func pam(m *image.NRGBA, alpha bool) []byte {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	depth, tupl := 3, "RGB"
	if alpha {
		depth, tupl = 4, "RGB_ALPHA"
	}
	hdr := fmt.Sprintf("P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL 255\nTUPLTYPE %s\nENDHDR\n", w, h, depth, tupl)
	b := make([]byte, 0, len(hdr)+w*h*depth)
	b = append(b, hdr...)
	for y := 0; y < h; y++ {
		row := m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y):][:4*w]
		if alpha {
			b = append(b, row...)
			continue
		}
		for x := 0; x < len(row); x += 4 {
			b = append(b, row[x], row[x+1], row[x+2])
		}
	}
	return b
}
