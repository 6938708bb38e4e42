package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// dumpBody writes every block, attribute and range of a syntax tree, so
// two trees can be compared as text.
func dumpBody(b *strings.Builder, body *hclsyntax.Body, indent string) {
	fmt.Fprintf(b, "%sbody %s end %s\n", indent, body.SrcRange, body.EndRange)
	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := body.Attributes[n]
		fmt.Fprintf(b, "%s  attr %s %s name %s expr %s %T\n", indent, n, a.SrcRange, a.NameRange, a.Expr.Range(), a.Expr)
	}
	for _, blk := range body.Blocks {
		fmt.Fprintf(b, "%s  block %s %q %s %v { %s } %s\n", indent, blk.Type, blk.Labels, blk.TypeRange, blk.LabelRanges, blk.OpenBraceRange, blk.CloseBraceRange)
		dumpBody(b, blk.Body, indent+"    ")
	}
}

func dumpFile(f *hcl.File) string {
	var b strings.Builder
	dumpBody(&b, f.Body.(*hclsyntax.Body), "")
	return b.String()
}

// chunkSources are native-syntax files with every construct a cut must
// not fall inside: the fixtures, and a file of the awkward cases.
func chunkSources(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, pattern := range []string{"testdata/valid/*.pc.hcl", "testdata/valid/*/*.pc.hcl", "testdata/errors/*.pc.hcl"} {
		names, _ := filepath.Glob(pattern)
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = src
		}
	}
	out["awkward.pc.hcl"] = []byte(`# a comment {
// another }
/* a block comment
}
host "x" {
*/
locals {
  heredoc = <<EOT
}
host "inside" {
  address = "${local.a}"
}
EOT
  indented = <<-EOT
    }
    EOT
  template = "a ${ {b = "}"}.b } %{ if true }{%{ endif } $${ %%{ \" }"
  list = [
    1,
    2,
  ]
  nested = { a = [{
    b = 1
  }] }
}

host "h" {
  address = "10.0.0.1"
}
endpoint "e" {
  host = host.h
  port = 80
}
`)
	// A fleet: endpoints before and after the hosts they name, decode
	// errors inside endpoint pieces (their context line names the
	// endpoint), a duplicate name across pieces, a comment between them.
	var fleet strings.Builder
	for i := range 40 {
		fmt.Fprintf(&fleet, "endpoint \"e%d\" {\n  host = host.h%d\n  port = var.base + %d\n}\n\n", i, i%3, i)
		if i == 20 {
			fleet.WriteString("# hosts in the middle\nvariable \"base\" {\n  default = 8000\n}\nhost \"h0\" {\n  address = \"10.0.0.1\"\n}\nhost \"h1\" {\n  address = \"10.0.0.2\"\n}\n\n")
		}
	}
	fleet.WriteString("endpoint \"e7\" {\n  host = host.h1\n  port = 70000\n}\n")
	out["fleet.pc.hcl"] = []byte(fleet.String())
	// The same with a syntax error in a late piece: the load starts over
	// whole, and the error is the whole parse's.
	out["fleet_broken.pc.hcl"] = []byte(strings.Replace(fleet.String(), "endpoint \"e33\" {\n  host = host.h0\n", "endpoint \"e33\" {\n  host = = host.h0\n", 1))
	// A piece that starts like an endpoint but is not only endpoints.
	out["fleet_mixed.pc.hcl"] = []byte(fleet.String() + "endpoint \"z\" {\n  host = host.h0\n  port = 1\n}\nhost \"h2\" {\n  address = \"10.0.0.3\"\n}\n")
	return out
}

// TestChunkedParseMatchesWhole cuts every source at every line the scan
// allows: whenever the pieces parse without a diagnostic, the tree must be
// the whole file's, range for range, and the file must have parsed whole
// without an error too; a file with errors is never taken in pieces.
func TestChunkedParseMatchesWhole(t *testing.T) {
	cut := 0
	for name, src := range chunkSources(t) {
		whole, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		f, _ := parseChunked(name, src, 1, false)
		if f == nil {
			if name == "awkward.pc.hcl" {
				t.Errorf("%s was not cut; its cases are the point", name)
			}
			continue
		}
		cut++
		if diags.HasErrors() {
			t.Errorf("%s: taken in pieces, but parsing it whole gives %v", name, diags)
			continue
		}
		if got, want := dumpFile(f), dumpFile(whole); got != want {
			t.Errorf("%s: the tree parsed in pieces differs:\n--- pieces\n%s\n--- whole\n%s", name, got, want)
		}
		for off := 0; off < len(src); off += 7 {
			if got, want := f.Nav.(*navigation).ContextString(off), whole.Nav.(interface{ ContextString(int) string }).ContextString(off); got != want {
				t.Errorf("%s: context at byte %d = %q, want %q", name, off, got, want)
				break
			}
		}
	}
	if cut < 10 {
		t.Errorf("only %d sources were cut into pieces; the test no longer tests the cut", cut)
	}
}

// TestChunkedLoadSameDiagnostics loads every fixture directory with every
// file cut at every line and whole: the configuration and the
// diagnostics (with their ranges) must be the same.
func TestChunkedLoadSameDiagnostics(t *testing.T) {
	for name, src := range chunkSources(t) {
		whole, cut := loadText(t, name, src, 1<<30, 1<<30), loadText(t, name, src, 0, 1)
		if whole != cut {
			t.Errorf("%s: loading in pieces differs:\n--- pieces\n%s\n--- whole\n%s", name, cut, whole)
		}
	}
}

// loadText loads one file with the given piece sizes and prints the
// diagnostics (as the terminal shows them, with context) and what was
// declared.
func loadText(t testing.TB, name string, src []byte, minFile, target int) string {
	defer func(m, tg int) { chunkMinFile, chunkTarget = m, tg }(chunkMinFile, chunkTarget)
	chunkMinFile, chunkTarget = minFile, target
	cfg, diags := LoadSources(map[string][]byte{name: src}, Options{})
	// HCL reports a body's unexpected attributes in map order, which
	// differs from run to run even for the same whole parse: compare the
	// diagnostics by position.
	diags = slices.Clone(diags)
	sort.SliceStable(diags, func(i, j int) bool {
		return rangeOr(diags[i].Subject).Start.Byte < rangeOr(diags[j].Subject).Start.Byte
	})
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s %v %s: %s\n", where(rangeOr(d.Subject)), d.Severity, d.Summary, d.Detail)
	}
	if err := WriteDiagnostics(&b, cfg.Files, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	for _, e := range cfg.Endpoints {
		fmt.Fprintf(&b, "endpoint %s %+v %s %s\n", e.Name, e.Ports, e.DeclRange, e.PortsRange)
	}
	for _, h := range cfg.Hosts {
		fmt.Fprintf(&b, "host %s %v %s\n", h.Name, h.Addresses, h.DeclRange)
	}
	// HCL's suggestion among names that are equally close depends on map
	// order too.
	return didYouMean.ReplaceAllString(b.String(), `Did you mean …?`)
}

var didYouMean = regexp.MustCompile(`Did you mean "[^"]*"\?`)

func rangeOr(r *hcl.Range) hcl.Range {
	if r == nil {
		return hcl.Range{}
	}
	return *r
}

// FuzzChunkedParse: whatever the scan makes of the input, pieces that
// parse cleanly are the whole file's tree, and a load in pieces says and
// declares what a whole load does.
func FuzzChunkedParse(f *testing.F) {
	for _, src := range chunkSources(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 4096 || checkText("f.pc.hcl", src) != nil {
			return
		}
		if _, at := nativeNesting(src, "f.pc.hcl", hcl.InitialPos, lexConfig, 0); at != nil {
			return // the whole file is refused before parsing
		}
		// Loaded in pieces (endpoint pieces parsed late), the diagnostics
		// and declarations are the whole file's.
		if whole, cut := loadText(t, "f.pc.hcl", src, 1<<30, 1<<30), loadText(t, "f.pc.hcl", src, 0, 1); whole != cut {
			t.Fatalf("loading in pieces differs:\n--- pieces\n%s\n--- whole\n%s", cut, whole)
		}
		c, _ := parseChunked("f.pc.hcl", src, 1, false)
		if c == nil {
			return
		}
		whole, diags := hclsyntax.ParseConfig(src, "f.pc.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("taken in pieces, but parsing it whole gives %v", diags)
		}
		if got, want := dumpFile(c), dumpFile(whole); got != want {
			t.Fatalf("the tree parsed in pieces differs:\n--- pieces\n%s\n--- whole\n%s", got, want)
		}
	})
}

// TestDeferredPieces: endpoint pieces are left for later and decoded
// there; one that does not parse makes the load start over whole.
func TestDeferredPieces(t *testing.T) {
	srcs := chunkSources(t)
	f, deferred := parseChunked("fleet.pc.hcl", srcs["fleet.pc.hcl"], 1, true)
	if f == nil || len(deferred) < 30 {
		t.Fatalf("fleet.pc.hcl: %d pieces left for later, want one per endpoint", len(deferred))
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type == "endpoint" {
			t.Errorf("endpoint %q parsed before the declarations", b.Labels)
		}
	}
	defer func(m, tg int) { chunkMinFile, chunkTarget = m, tg }(chunkMinFile, chunkTarget)
	chunkMinFile, chunkTarget = 0, 1
	cfg, _, ok := loadSourcesOnce(map[string][]byte{"fleet.pc.hcl": srcs["fleet.pc.hcl"]}, Options{}, true)
	if !ok || len(cfg.Endpoints) != 40 {
		t.Errorf("fleet.pc.hcl in pieces: ok=%v, %d endpoints; want 40", ok, len(cfg.Endpoints))
	}
	if _, _, ok := loadSourcesOnce(map[string][]byte{"b.pc.hcl": srcs["fleet_broken.pc.hcl"]}, Options{}, true); ok {
		t.Error("fleet_broken.pc.hcl: a piece with a syntax error did not start the load over")
	}
}
