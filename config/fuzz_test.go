package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FuzzLoadSources: no input may panic or crash the loader (or the writers
// that print its diagnostics), every error must point at the source, the
// printed diagnostics stay short and free of control characters, and the
// nesting count bounds the depth of what the parser builds.
func FuzzLoadSources(f *testing.F) {
	for _, pattern := range []string{
		"testdata/valid/*.pc.*", "testdata/valid/*/*.pc.*", "testdata/errors/*.pc.hcl", "testdata/varfiles/*",
	} {
		names, _ := filepath.Glob(pattern)
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src, strings.HasSuffix(name, ".json"))
		}
	}
	// Deep inputs: each way of nesting just below and just past the
	// limit, and mixtures the fuzzer can splice.
	for _, tt := range nestCases {
		r := 1
		for tt.depth(r+1) <= MaxNesting {
			r++
		}
		f.Add([]byte(tt.src(r)), isJSONName(tt.file))
		f.Add([]byte(tt.src(r+1)), isJSONName(tt.file))
	}
	f.Add([]byte(local(strings.Repeat(`([{a = "${-!x[`, 300))), false)
	f.Add([]byte(local("<<EOT\n"+strings.Repeat("${[(", 400)+"\nEOT")), false)
	f.Add([]byte(local(`"`+strings.Repeat("%{ for x in [1] }${", 300)+`"`)), false)
	f.Add([]byte(`{"locals": {"v": [{"a": [`+strings.Repeat(`"${[(`, 300)+`"]}]}}`), true)
	// Not text, and text with control characters.
	f.Add([]byte("host \"a\" {\x00\xff\xfe\x1b[2J}"), false)
	f.Add([]byte("locals {\n  a = \"\x1b]0;title\x07\u202e\" $\n}\n"), false)

	f.Fuzz(func(t *testing.T, src []byte, isJSON bool) {
		name := "fuzz.pc.hcl"
		if isJSON {
			name = "fuzz.pc.json"
		}
		cfg, diags := LoadSources(map[string][]byte{name: src}, Options{})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Subject == nil {
				t.Errorf("error without a subject: %s: %s", d.Summary, d.Detail)
			}
		}
		var out bytes.Buffer
		if err := WriteDiagnostics(&out, cfg.Files, diags, false, 0); err != nil {
			t.Fatal(err)
		}
		checkPrintable(t, out.String())
		if _, err := DiagnosticsJSON(diags); err != nil {
			t.Error(err)
		}
		if isJSON || checkSource(name, src) != nil {
			return
		}
		if file, d := hclsyntax.ParseConfig(src, name, hcl.InitialPos); !d.HasErrors() {
			if got, bound := astDepth(t, file), astBound(measure(t, name, src)); got > bound {
				t.Errorf("the parser built a tree %d deep; the nesting count allows %d", got, bound)
			}
		}
		if out, d := Format(name, src); !d.HasErrors() {
			if again, _ := Format(name, out); string(again) != string(out) {
				t.Errorf("Format is not idempotent:\n%q\n%q", out, again)
			}
		}
	})
}

// FuzzDecodeHex: send_hex input never panics, and
// what decodes is half as long as its digits.
func FuzzDecodeHex(f *testing.F) {
	for _, s := range []string{"0000000804d2162f", "00 00:ff", "0x41", "0g", " ", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeHex(s)
		if err == nil && len(b) > len(s)/2 {
			t.Errorf("%q decoded to %d bytes", s, len(b))
		}
	})
}

// FuzzVariableValue: -var and PORTCHECK_VAR_ values are parsed as HCL
// expressions for structured types; none may crash the loader.
func FuzzVariableValue(f *testing.F) {
	for _, s := range []string{`["a", "b"]`, `{a = "x"}`, "[1, 2", strings.Repeat("[", MaxNesting+1), strings.Repeat("-", 5000) + "1", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, opts := range []Options{
			{Vars: []string{"list=" + raw, "obj=" + raw, "any=" + raw}},
			{Env: []string{"PORTCHECK_VAR_list=" + raw, "PORTCHECK_VAR_obj=" + raw}},
		} {
			cfg, diags := LoadSources(map[string][]byte{"vars.pc.hcl": []byte(varsSource)}, opts)
			var out bytes.Buffer
			if err := WriteDiagnostics(&out, cfg.Files, diags, false, 0); err != nil {
				t.Fatal(err)
			}
			checkPrintable(t, out.String())
		}
	})
}
