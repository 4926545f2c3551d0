package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// defaultPhotos are real photographs at about 2, 12 and 24 MP, none of
// them made for this project, from Debian packages that
// scripts/ensure-bench-deps.sh installs. None carries an ICC profile, so
// both sides work on the same sRGB pixels; -photos takes any others.
var defaultPhotos = []struct{ path, pkg string }{
	{"/usr/share/backgrounds/mate/nature/RainDrops.jpg", "mate-backgrounds"},              // 1920×1200, leaves and water drops
	{"/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg", "lomiri-wallpapers-16.04"}, // 4272×2848, mountains against the sun
	{"/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg", "lomiri-wallpapers-20.04"},    // 6028×3391, a nuthatch on bark
}

// photoInputs resolves the -photos flag (comma-separated paths; empty for
// the defaults) into inputs named after their file and size.
func photoInputs(list string) ([]*input, error) {
	var paths []string
	if list == "" {
		for _, p := range defaultPhotos {
			if _, err := os.Stat(p.path); err != nil {
				return nil, fmt.Errorf("photo %s is missing: install Debian package %s (make bench runs scripts/ensure-bench-deps.sh)", p.path, p.pkg)
			}
			paths = append(paths, p.path)
		}
	} else {
		paths = strings.Split(list, ",")
	}
	var ins []*input
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: the bench takes JPEG photos: %w", p, err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if i := strings.Index(name, "_by_"); i > 0 {
			name = name[:i]
		}
		ins = append(ins, &input{
			name: fmt.Sprintf("%s %.1fMP", name, float64(cfg.Width*cfg.Height)/1e6),
			w:    cfg.Width, h: cfg.Height, path: p, tagged: jpegHasICC(data),
		})
	}
	return ins, nil
}

//go:embed vipsref/vipsref.c
var vipsrefSource []byte

// buildVipsref compiles the libvips reference into dir with the system C
// compiler against the installed libvips-dev, as a user of libvips would.
func buildVipsref(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "vipsref.c")
	bin := filepath.Join(dir, "vipsref")
	if err := os.WriteFile(src, vipsrefSource, 0o644); err != nil {
		return "", err
	}
	flags, err := exec.CommandContext(ctx, "pkg-config", "--cflags", "--libs", "vips").Output()
	if err != nil {
		return "", fmt.Errorf("pkg-config vips (apt-get install libvips-dev pkg-config): %w", err)
	}
	args := append([]string{"-O2", "-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.CommandContext(ctx, "cc", append(args, "-lpthread")...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cc vipsref.c: %w: %s", err, out)
	}
	return bin, nil
}

// vipsrefBatch runs jobs libvips jobs, two at a time, in one vipsref
// process, and returns the CPU and wall time it spent on them (its own
// measure, which leaves out vips_init: a server pays that once).
func vipsrefBatch(ctx context.Context, bin, in, dir string, jobs int, png bool) (cpu, wall time.Duration, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	args := []string{"-n", strconv.Itoa(jobs), "-p", "2"}
	if png {
		args = append(args, "-png")
	}
	cmd := exec.CommandContext(ctx, bin, append(args, dir, in)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("vipsref: %w: %s", err, stderr.String())
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return 0, 0, errors.New("vipsref: unexpected output " + strconv.Quote(string(out)))
	}
	c, err1 := strconv.ParseFloat(f[0], 64)
	w, err2 := strconv.ParseFloat(f[1], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	return time.Duration(c * float64(time.Second)), time.Duration(w * float64(time.Second)), nil
}

// jpegHasICC reports whether a JPEG carries an ICC profile (an APP2
// segment named ICC_PROFILE) before its first scan.
func jpegHasICC(data []byte) bool {
	p := 2
	for p+4 <= len(data) && data[p] == 0xff {
		m := data[p+1]
		if m == 0xda || m == 0xd9 {
			return false
		}
		n := int(data[p+2])<<8 | int(data[p+3])
		if m == 0xe2 && p+4+12 <= len(data) && string(data[p+4:p+4+12]) == "ICC_PROFILE\x00" {
			return true
		}
		p += 2 + n
	}
	return false
}

// adobeRGBPhoto makes the tagged input: the first default photo converted
// by libvips to Adobe RGB (1998) with the profile embedded, JPEG q95, as a
// camera set to Adobe RGB would deliver it. Both sides must convert it
// back to sRGB; the outputs are judged against the sRGB original.
func adobeRGBPhoto(ctx context.Context, dir string) (*input, error) {
	const profile = "/usr/share/color/icc/compatibleWithAdobeRGB1998.icc"
	if _, err := os.Stat(profile); err != nil {
		return nil, fmt.Errorf("%s is missing: install Debian package icc-profiles-free", profile)
	}
	src := defaultPhotos[0].path
	out := filepath.Join(dir, "adobergb.jpg")
	if b, err := exec.CommandContext(ctx, "vips", "icc_transform", src, out+"[Q=95]", profile, "--input-profile", "srgb").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vips icc_transform: %w: %s", err, b)
	}
	ins, err := photoInputs(out)
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if !in.tagged {
		return nil, errors.New("vips icc_transform wrote no profile into " + out)
	}
	in.name = strings.Replace(in.name, "adobergb", "RainDrops AdobeRGB", 1)
	in.ref = src
	return in, nil
}
