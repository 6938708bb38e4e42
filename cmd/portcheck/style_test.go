package main

import (
	"bytes"
	"os"
	"testing"
)

// Colour only on a terminal, and never with NO_COLOR or -no-color.
func TestStyleDecision(t *testing.T) {
	if style(&bytes.Buffer{}, false).Color {
		t.Error("colour chosen for a writer that is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if style(f, false).Color {
		t.Error("colour chosen for a regular file")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no controlling terminal to test the terminal case:", err)
	}
	defer tty.Close()
	t.Setenv("NO_COLOR", "")
	if !style(tty, false).Color {
		t.Error("no colour on a terminal")
	}
	if style(tty, true).Color {
		t.Error("colour despite -no-color")
	}
	t.Setenv("NO_COLOR", "1")
	if style(tty, false).Color {
		t.Error("colour despite NO_COLOR")
	}
}
