package report

import "github.com/portcheck/portcheck/runner"

// Style decides colour; only on a terminal, and never with NO_COLOR set
// (the cmd package decides and passes it in).
type Style struct{ Color bool }

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiPurple = "\x1b[35m"
)

func (s Style) paint(code, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return code + text + ansiReset
}

// mark is the ladder symbol of a status.
func mark(st runner.Status) string {
	switch st {
	case runner.StatusPass:
		return "✓"
	case runner.StatusFail:
		return "✗"
	case runner.StatusDrift:
		return "~"
	case runner.StatusError:
		return "!"
	}
	return "−"
}

func (s Style) mark(st runner.Status) string {
	m := mark(st)
	switch st {
	case runner.StatusPass:
		return s.paint(ansiGreen, m)
	case runner.StatusFail:
		return s.paint(ansiRed, m)
	case runner.StatusDrift:
		return s.paint(ansiYellow, m)
	case runner.StatusError:
		return s.paint(ansiPurple, m)
	}
	return s.paint(ansiDim, m)
}

var markMeaning = map[string]string{
	"✓": "passed",
	"✗": "failed",
	"~": "drifted from the declaration",
	"!": "could not be checked (error)",
	"−": "skipped or not checked",
}
