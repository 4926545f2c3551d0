package upload

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Fit says how a variant fills its box.
type Fit string

const (
	// FitInside scales the image down to fit inside the box, keeping its
	// aspect ratio. It never scales up.
	FitInside Fit = "fit"
	// FitCover scales and centre-crops to fill the box exactly (a square
	// thumbnail when the box is square).
	FitCover Fit = "cover"
)

// Output formats a variant may be written in.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatWebP = "webp"
	// FormatAVIF writes AVIF (AV1 in HEIF) next to the others: about half
	// the bytes of JPEG at the same look, at a much higher encoding cost.
	FormatAVIF = "avif"
	// FormatAuto picks JPEG for opaque images and PNG where alpha matters.
	FormatAuto = "auto"
)

// VariantSpec describes one rendition a profile asks for.
type VariantSpec struct {
	Name    string   `json:"name"`
	Width   int      `json:"width"`
	Height  int      `json:"height"`
	Fit     Fit      `json:"fit"`
	Formats []string `json:"formats"` // e.g. ["auto","webp"]
	Quality int      `json:"quality"` // 1..100 for lossy formats
}

// Profile is a kind of upload: what may be sent and what is made of it.
type Profile struct {
	Name         string        `json:"name"`
	AllowedTypes []string      `json:"allowed_types"`
	MaxBytes     int64         `json:"max_bytes"`
	MaxPixels    int64         `json:"max_pixels"`
	Variants     []VariantSpec `json:"variants"`
	Queue        string        `json:"queue"`       // asynq queue; "default" when empty
	AllowLossy   bool          `json:"allow_lossy"` // lets pngquant run on PNG outputs
	Private      bool          `json:"private"`     // variants served through signed URLs
	Multipart    bool          `json:"multipart"`   // large files may go up in parts (S3 multipart)
}

// ImageTypes are the only content types the service accepts.
var ImageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "image/avif"}

// Allows reports whether the profile accepts the content type.
func (p Profile) Allows(contentType string) bool {
	return slices.Contains(p.AllowedTypes, contentType)
}

// Validate checks that the profile is usable and names what is wrong.
func (p Profile) Validate() error {
	switch {
	case p.Name == "":
		return fmt.Errorf("profile without a name")
	case len(p.AllowedTypes) == 0:
		return fmt.Errorf("profile %q: allowed_types is empty", p.Name)
	case p.MaxBytes <= 0:
		return fmt.Errorf("profile %q: max_bytes must be positive", p.Name)
	case p.MaxPixels <= 0:
		return fmt.Errorf("profile %q: max_pixels must be positive", p.Name)
	case len(p.Variants) == 0:
		return fmt.Errorf("profile %q: no variants", p.Name)
	}
	for _, t := range p.AllowedTypes {
		if !slices.Contains(ImageTypes, t) {
			return fmt.Errorf("profile %q: type %q is not one of %v", p.Name, t, ImageTypes)
		}
	}
	seen := map[string]bool{}
	for _, v := range p.Variants {
		switch {
		case v.Name == "" || seen[v.Name]:
			return fmt.Errorf("profile %q: variant names must be unique and not empty (%q)", p.Name, v.Name)
		case v.Width <= 0 || v.Height <= 0:
			return fmt.Errorf("profile %q variant %q: width and height must be positive", p.Name, v.Name)
		case v.Fit != FitInside && v.Fit != FitCover:
			return fmt.Errorf("profile %q variant %q: fit must be %q or %q", p.Name, v.Name, FitInside, FitCover)
		case v.Quality < 1 || v.Quality > 100:
			return fmt.Errorf("profile %q variant %q: quality must be 1..100", p.Name, v.Name)
		case len(v.Formats) == 0:
			return fmt.Errorf("profile %q variant %q: no formats", p.Name, v.Name)
		}
		for _, f := range v.Formats {
			if !slices.Contains([]string{FormatJPEG, FormatPNG, FormatWebP, FormatAVIF, FormatAuto}, f) {
				return fmt.Errorf("profile %q variant %q: unknown format %q", p.Name, v.Name, f)
			}
		}
		seen[v.Name] = true
	}
	return nil
}

// Profiles is the set of profiles the service knows, by name.
type Profiles map[string]Profile

// Names returns the profile names in order.
func (ps Profiles) Names() []string {
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultProfiles returns the built-in profiles. maxPixels caps every one.
func DefaultProfiles(maxPixels int64) Profiles {
	photo := Profile{
		Name:         "photo",
		AllowedTypes: ImageTypes,
		MaxBytes:     20 << 20,
		MaxPixels:    maxPixels,
		Queue:        "photos",
		Multipart:    true,
		Variants: []VariantSpec{
			{Name: "w2048", Width: 2048, Height: 2048, Fit: FitInside, Formats: []string{FormatAuto, FormatWebP}, Quality: 82},
			{Name: "w1024", Width: 1024, Height: 1024, Fit: FitInside, Formats: []string{FormatAuto, FormatWebP}, Quality: 82},
			{Name: "w320", Width: 320, Height: 320, Fit: FitInside, Formats: []string{FormatAuto, FormatWebP}, Quality: 82},
			{Name: "thumb150", Width: 150, Height: 150, Fit: FitCover, Formats: []string{FormatAuto, FormatWebP}, Quality: 82},
		},
	}
	avatar := Profile{
		Name:         "avatar",
		AllowedTypes: ImageTypes,
		MaxBytes:     5 << 20,
		MaxPixels:    min(maxPixels, 25_000_000),
		Queue:        "avatars",
		Variants: []VariantSpec{
			{Name: "s512", Width: 512, Height: 512, Fit: FitCover, Formats: []string{FormatAuto, FormatWebP}, Quality: 85},
			{Name: "s128", Width: 128, Height: 128, Fit: FitCover, Formats: []string{FormatAuto, FormatWebP}, Quality: 85},
			{Name: "s64", Width: 64, Height: 64, Fit: FitCover, Formats: []string{FormatAuto, FormatWebP}, Quality: 85},
		},
	}
	return Profiles{photo.Name: photo, avatar.Name: avatar}
}

// ParseProfiles reads a JSON array of profiles (the PROFILES_FILE format)
// and adds them to base, replacing profiles of the same name.
func ParseProfiles(base Profiles, data []byte) (Profiles, error) {
	var list []Profile
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	out := Profiles{}
	for n, p := range base {
		out[n] = p
	}
	for _, p := range list {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		out[p.Name] = p
	}
	return out, nil
}
