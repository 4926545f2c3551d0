package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"uploader/internal/imageproc"
	"uploader/internal/ssim"
	"uploader/internal/upload"
)

// The JPEG encoders alone, on many photographs: the four-photo comparison
// above cannot show how an encoder setting fares on pictures it was not
// tuned on, and the outside check repeats the bench on photos the project
// has never seen. Each wallpaper is made into the photo profile's four
// sizes by libvips' vipsthumbnail, losslessly, and both encoders get the
// same pixels: libvips' jpegsave at Q82 (progressive, optimized tables,
// stripped) and our whole JPEG path (imageproc.Process kept at the
// pixels' size, the optimizer chain included when it runs in production).
// Each file's SSIM is taken against those pixels, both decoded by Go's
// image/jpeg, and a miss is an output more than 0.002 below libvips'.

// wallpaperDirs hold every JPEG of the Debian wallpaper packages
// scripts/ensure-deps.sh installs.
var wallpaperDirs = []string{"/usr/share/backgrounds"}

// wallpapers lists the JPEGs under dirs, in a fixed order.
func wallpapers(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.EqualFold(filepath.Ext(p), ".jpg") {
				out = append(out, p)
			}
			return nil
		})
	}
	slices.Sort(out)
	return out
}

type encoderSize struct {
	name string
	args []string // vipsthumbnail's size arguments
	min  int      // smallest source width for this size
}

var encoderSizes = []encoderSize{
	{"w2048", []string{"--size", "2048x"}, 2049},
	{"w1024", []string{"--size", "1024x"}, 1025},
	{"w320", []string{"--size", "320x"}, 321},
	{"thumb150", []string{"--size", "150x150", "--smartcrop", "centre"}, 151},
}

// encoderTally is one size's results over all photos.
type encoderTally struct {
	deltas     []float64
	ours, vips int64
	misses     []string
	worstName  string
	worst      float64
}

func encodersAlone(ctx context.Context, photos []string, dir string, opt imageproc.Options, stdout io.Writer, logf func(string, ...any)) error {
	tallies := make([]encoderTally, len(encoderSizes))
	for i, photo := range photos {
		logf("encoders alone: %d/%d %s", i+1, len(photos), filepath.Base(photo))
		w, err := sourceWidth(photo)
		if err != nil {
			return err
		}
		// The smaller sizes are made from the w2048 pixels, as vipsref
		// does, so that each large photo is decoded once.
		from := photo
		for k, sz := range encoderSizes {
			if w < sz.min {
				continue
			}
			d, ours, vips, pixels, err := encodeBoth(ctx, from, sz, dir, opt)
			if err != nil {
				return fmt.Errorf("%s %s: %w", filepath.Base(photo), sz.name, err)
			}
			t := &tallies[k]
			t.deltas = append(t.deltas, d)
			t.ours += int64(ours)
			t.vips += int64(vips)
			name := strings.TrimSuffix(filepath.Base(photo), filepath.Ext(photo))
			if d < -0.002 {
				t.misses = append(t.misses, fmt.Sprintf("%s %+.4f", name, d))
			}
			if len(t.deltas) == 1 || d < t.worst {
				t.worst, t.worstName = d, name
			}
			if sz.name == "w2048" {
				from = pixels
			}
		}
	}
	fmt.Fprintf(stdout, "JPEG encoders alone on %d Debian wallpapers, each size made losslessly by vipsthumbnail; ours (Process, as in production) against libvips jpegsave Q82 progressive optimized strip; SSIM of each file against the pixels both were given\n", len(photos))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "size\tphotos\tmore than 0.002 below libvips\tworst ΔSSIM\tmedian ΔSSIM\tbytes ours ÷ libvips")
	for k, sz := range encoderSizes {
		t := tallies[k]
		if len(t.deltas) == 0 {
			continue
		}
		med, _, _ := median(t.deltas)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%+.4f (%s)\t%+.4f\t%.3f×\n", sz.name, len(t.deltas), len(t.misses), t.worst, t.worstName, med, float64(t.ours)/float64(t.vips))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for k, sz := range encoderSizes {
		if m := tallies[k].misses; len(m) > 0 {
			fmt.Fprintf(stdout, "  %s misses: %s\n", sz.name, strings.Join(m, ", "))
		}
	}
	fmt.Fprintln(stdout)
	return nil
}

func sourceWidth(photo string) (int, error) {
	f, err := os.Open(photo)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cfg, err := jpeg.DecodeConfig(f)
	if err != nil {
		return 0, err
	}
	return cfg.Width, nil
}

// encodeBoth makes one size of photo losslessly with vipsthumbnail and
// encodes it with both sides, returning our SSIM less libvips' and the two
// files' sizes, and the PNG of the pixels (in dir, until the next photo).
func encodeBoth(ctx context.Context, photo string, sz encoderSize, dir string, opt imageproc.Options) (delta float64, ours, vips int, pixels string, err error) {
	pixels = filepath.Join(dir, "enc-"+sz.name+".png")
	args := append([]string{photo}, sz.args...)
	args = append(args, "-o", pixels)
	if b, err := exec.CommandContext(ctx, "vipsthumbnail", args...).CombinedOutput(); err != nil {
		return 0, 0, 0, "", fmt.Errorf("vipsthumbnail: %v: %s", err, b)
	}
	vipsFile := filepath.Join(dir, "enc-"+sz.name+".jpg")
	if b, err := exec.CommandContext(ctx, "vips", "jpegsave", pixels, vipsFile, "--Q", "82", "--optimize-coding", "--interlace", "--strip").CombinedOutput(); err != nil {
		return 0, 0, 0, "", fmt.Errorf("vips jpegsave: %v: %s", err, b)
	}
	src, err := os.ReadFile(pixels)
	if err != nil {
		return 0, 0, 0, "", err
	}
	ref, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		return 0, 0, 0, "", err
	}
	vipsJPEG, err := os.ReadFile(vipsFile)
	if err != nil {
		return 0, 0, 0, "", err
	}
	b := ref.Bounds()
	p := photoProfile()
	p.AllowedTypes = []string{imageproc.TypePNG}
	p.Variants = []upload.VariantSpec{{Name: sz.name, Width: b.Dx(), Height: b.Dy(), Fit: upload.FitInside, Formats: []string{upload.FormatJPEG}, Quality: 82}}
	res, err := imageproc.Process(ctx, src, p, opt)
	if err != nil {
		return 0, 0, 0, "", err
	}
	if len(res.Outputs) != 1 || res.Outputs[0].Width != b.Dx() || res.Outputs[0].Height != b.Dy() {
		return 0, 0, 0, "", fmt.Errorf("our job did not keep the %dx%d pixels as one JPEG", b.Dx(), b.Dy())
	}
	ourJPEG := res.Outputs[0].Data
	so, err := decodedSSIM(ref, ourJPEG)
	if err != nil {
		return 0, 0, 0, "", err
	}
	sv, err := decodedSSIM(ref, vipsJPEG)
	if err != nil {
		return 0, 0, 0, "", err
	}
	return so - sv, len(ourJPEG), len(vipsJPEG), pixels, nil
}

func decodedSSIM(ref image.Image, file []byte) (float64, error) {
	m, err := jpeg.Decode(bytes.NewReader(file))
	if err != nil {
		return 0, err
	}
	return ssim.Of(ref, m)
}

// encoderPhotos resolves the -encoders flag: "" for none, "wallpapers"
// for every installed wallpaper, else a comma-separated list.
func encoderPhotos(flag string) []string {
	switch flag {
	case "":
		return nil
	case "wallpapers":
		return wallpapers(wallpaperDirs)
	}
	return strings.Split(flag, ",")
}
