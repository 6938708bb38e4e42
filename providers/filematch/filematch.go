// Package filematch reads a file on this host and matches a regular
// expression against it, for the port-change checklist's "the application
// configuration names the new port" step (and the on-premises load
// balancer's, when a file match is all that is declared). The facts say
// which file was read (size, SHA-256, modification time, so the change
// record pins the exact content judged), whether the pattern matched and
// on which lines — line numbers only: a configuration line may hold a
// secret, and facts are printed.
//
// Huge and binary files are refused with an error naming the file: a
// pattern over a log or an image would answer a question nobody asked.
package filematch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portcheck/portcheck/internal/textfile"
)

// DefaultMaxLines is how many matching line numbers Facts keeps when
// Options.MaxLines is 0.
const DefaultMaxLines = 20

// Options bound a match.
type Options struct {
	// MaxLines is how many matching line numbers to keep (0:
	// DefaultMaxLines); Matches counts them all.
	MaxLines int
	// MaxSize is the largest file read, in bytes (0: textfile.DefaultMax).
	MaxSize int64
}

// Facts is one file matched against one pattern.
type Facts struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	ModTime time.Time `json:"mod_time"`
	Pattern string    `json:"pattern"`
	Matched bool      `json:"matched"`
	// Matches is the number of lines where a match starts.
	Matches int `json:"matches"`
	// Lines are the first of those line numbers (1-based), at most
	// Options.MaxLines; Truncated says there were more.
	Lines     []int `json:"lines"`
	Truncated bool  `json:"truncated,omitempty"`
}

// Compile compiles pattern the way Match uses it: RE2 syntax (Go's
// regexp), with ^ and $ matching at line boundaries, as in grep.
func Compile(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?m)" + pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return re, nil
}

// Match reads the file at path and matches pattern (see Compile) against
// its whole text, so a pattern may span lines with \n.
func Match(ctx context.Context, path, pattern string, opts Options) (*Facts, error) {
	re, err := Compile(pattern)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := textfile.Read(path, opts.MaxSize)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(f.Data)
	facts := &Facts{Path: path, Size: int64(len(f.Data)), SHA256: hex.EncodeToString(sum[:]), ModTime: f.ModTime,
		Pattern: pattern, Lines: []int{}}
	max := opts.MaxLines
	if max <= 0 {
		max = DefaultMaxLines
	}
	last := 0
	for _, loc := range matchStarts(re, f.Data) {
		line := lineOf(f.Data, loc)
		if line == last {
			continue // several matches on one line count once
		}
		last = line
		facts.Matches++
		if len(facts.Lines) < max {
			facts.Lines = append(facts.Lines, line)
		} else {
			facts.Truncated = true
		}
	}
	facts.Matched = facts.Matches > 0
	return facts, nil
}

// matchStarts are the offsets where matches start; an empty match at the
// very end of a file that ends with a newline (a pattern like `$`) is not
// a line of the file.
func matchStarts(re *regexp.Regexp, data []byte) []int {
	var out []int
	for _, loc := range re.FindAllIndex(data, -1) {
		if loc[0] == len(data) && loc[1] == loc[0] && len(data) > 0 && data[len(data)-1] == '\n' {
			continue
		}
		out = append(out, loc[0])
	}
	return out
}

// lineOf is the 1-based line of offset off.
func lineOf(data []byte, off int) int {
	return strings.Count(string(data[:off]), "\n") + 1
}

// Holds reports whether the file is as declared: matching when
// wantMatch, not matching otherwise.
func (f *Facts) Holds(wantMatch bool) bool { return f.Matched == wantMatch }

// Evidence is one sentence for a report: the file, whether and where the
// pattern matched, and the content's hash.
func (f *Facts) Evidence() string {
	short := f.SHA256
	if len(short) > 12 {
		short = short[:12]
	}
	if !f.Matched {
		return fmt.Sprintf("%s (%d bytes, sha256 %s…) has no match for %q", f.Path, f.Size, short, f.Pattern)
	}
	var lines []string
	for _, l := range f.Lines {
		lines = append(lines, strconv.Itoa(l))
	}
	more := ""
	if f.Truncated {
		more = fmt.Sprintf(" and %d more", f.Matches-len(f.Lines))
	}
	word := "line"
	if f.Matches > 1 {
		word = "lines"
	}
	return fmt.Sprintf("%s (%d bytes, sha256 %s…) matches %q on %s %s%s", f.Path, f.Size, short, f.Pattern, word, strings.Join(lines, ", "), more)
}
