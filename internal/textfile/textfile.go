// Package textfile reads a configuration-sized text file from this host,
// refusing what is not one: a file too large to be a configuration (a log,
// a disk image pointed at by mistake) or a binary file, each with an error
// that names the file and says why, instead of matching or parsing bytes
// that cannot mean what the declaration thinks.
package textfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
	"unicode/utf8"
)

// DefaultMax is the largest file Read accepts when max is 0: 8 MiB is
// far above any hand-written configuration.
const DefaultMax = 8 << 20

// ErrTooLarge and ErrBinary are wrapped by Read's errors.
var (
	ErrTooLarge = errors.New("file too large")
	ErrBinary   = errors.New("binary file")
)

// File is what Read read.
type File struct {
	Path    string
	Data    []byte
	Mode    fs.FileMode
	ModTime time.Time
}

// Read reads path when it is a regular file of at most max bytes (0:
// DefaultMax) that looks like text: no NUL byte, valid UTF-8 (Latin-1
// bytes in a comment are let through when they are few). A file that
// grows while it is read is cut at max+1 bytes and refused.
func Read(path string, max int64) (*File, error) {
	if max <= 0 {
		max = DefaultMax
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d", path, ErrTooLarge, st.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes (it grew while read)", path, ErrTooLarge, max)
	}
	if why := binary(data); why != "" {
		return nil, fmt.Errorf("%s: %w: %s", path, ErrBinary, why)
	}
	return &File{Path: path, Data: data, Mode: st.Mode(), ModTime: st.ModTime()}, nil
}

// binary says why data is not text, or "".
func binary(data []byte) string {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return fmt.Sprintf("a NUL byte at offset %d", i)
	}
	bad := 0
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			bad++
		}
		i += n
	}
	// A few Latin-1 bytes (an author's name in a comment) do not make a
	// configuration binary; many do.
	if bad > 16 && bad*100 > len(data) {
		return fmt.Sprintf("%d bytes are not UTF-8 text", bad)
	}
	return ""
}
