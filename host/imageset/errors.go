package imageset

import "errors"

// InputError is an image or folder that cannot be used: Name (a path, or
// how a request named its part) and why, as os.PathError does. Every error
// of this package is one; the reasons below are sentinels to test with
// errors.Is.
type InputError struct {
	Name string
	Err  error
}

func (e *InputError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

var (
	// ErrNotImage: the data are not in a format this package reads.
	ErrNotImage = errors.New("not a PNG, JPEG, GIF, TIFF, WebP or BMP image")
	// ErrCorrupt: a known format that does not decode.
	ErrCorrupt = errors.New("corrupt or truncated")
	// ErrNoPixels: an image of zero width or height.
	ErrNoPixels = errors.New("image has no pixels")
	// ErrTooLarge: more pixels than the limit; refused before decoding.
	ErrTooLarge = errors.New("image too large")
	// ErrSizeMismatch: the two images of a pair differ in size.
	ErrSizeMismatch = errors.New("sizes differ")
	// ErrUnmatched: a folder of filtered images lacks some originals' names.
	ErrUnmatched = errors.New("lacks the matches of")
	// ErrNoImages: a folder holds no image files.
	ErrNoImages = errors.New("no PNG, JPEG, GIF, TIFF, WebP or BMP files")
)
