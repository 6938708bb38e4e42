package config

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// checkSource reports a file that portcheck does not hand to the parser:
// one that is not UTF-8 text (a binary named *.pc.hcl gave thousands of
// errors and raw bytes on the terminal), or one nested deeper than
// MaxNesting. nil when the file can be parsed.
func checkSource(filename string, src []byte) hcl.Diagnostics {
	if d := checkText(filename, src); d != nil {
		return hcl.Diagnostics{d}
	}
	if d := checkNesting(filename, src); d != nil {
		return hcl.Diagnostics{d}
	}
	return nil
}

// checkText reports a file that is not text as one "Not a text file"
// diagnostic at its first NUL byte, or at its first byte that is not
// UTF-8 when such bytes are at least a tenth of the file (a binary
// without NULs). A few bytes that are not UTF-8 in a text file, such as
// a Latin-1 "é" in a comment, are left to HCL, which accepts them in
// comments and reports them elsewhere, as before. Control characters are
// left to the parser too: inside a string they are valid HCL.
func checkText(filename string, src []byte) *hcl.Diagnostic {
	nul := bytes.IndexByte(src, 0)
	if nul < 0 && utf8.Valid(src) {
		return nil
	}
	if bytes.HasPrefix(src, []byte{0xFF, 0xFE}) || bytes.HasPrefix(src, []byte{0xFE, 0xFF}) {
		return errorf(byteRange(src, filename, 0, 2), "Not a text file",
			"%s starts with a UTF-16 byte order mark; portcheck reads UTF-8 only. Convert it: iconv -f UTF-16 -t UTF-8.", filename)
	}
	if nul >= 0 {
		rng := byteRange(src, filename, nul, nul+1)
		return errorf(rng, "Not a text file",
			"%s holds a NUL byte at %s: it looks like a binary file, not HCL. portcheck reads every *%s and *%s file in a directory; move files that are not configuration out of it.",
			filename, where(rng), nativeSuffix, jsonSuffix)
	}
	first, invalid := -1, 0
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			invalid++
			if first < 0 {
				first = i
			}
		}
		i += size
	}
	if invalid < 8 || invalid*10 < len(src) {
		return nil
	}
	rng := byteRange(src, filename, first, first+1)
	return errorf(rng, "Not a text file",
		"%s holds %d bytes that are not UTF-8, the first (0x%02X) at %s: it looks like a binary file, not HCL. Configuration files are UTF-8 text; text in another encoding converts with iconv, e.g. iconv -f latin1 -t utf-8.",
		filename, invalid, src[first], where(rng))
}

// where is "line 2, column 1016" for a message whose source line may be
// shown shortened.
func where(r hcl.Range) string {
	return fmt.Sprintf("line %d, column %d", r.Start.Line, r.Start.Column)
}

// printableSource is a stand-in hcl.File for a file that was not parsed
// (not text, or nested too deep), so its diagnostic can still show the
// line; WriteDiagnostics escapes and shortens what it shows.
func printableSource(src []byte) *hcl.File { return &hcl.File{Bytes: src} }
