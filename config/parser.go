package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/json"
)

// Options are the values given on the command line and in the environment.
type Options struct {
	Vars     []string // -var name=value, in command-line order (later wins)
	VarFiles []string // -var-file paths (HCL or HCL-JSON attribute files: name = value)
	Env      []string // os.Environ() style; PORTCHECK_VAR_name=value
}

const (
	nativeSuffix = ".pc.hcl"
	jsonSuffix   = ".pc.json"
)

// Load reads every *.pc.hcl (native) and *.pc.json (HCL JSON) file in dir
// (not recursive, sorted by name), or the single file path. Filenames in
// ranges are the path as given joined with the file name.
func Load(path string, opts Options) (*Config, hcl.Diagnostics) {
	names, diags := configFiles(path)
	srcs := make(map[string][]byte, len(names))
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Failed to read file",
				Detail:   fmt.Sprintf("The configuration file %q could not be read: %s.", name, err),
			})
			continue
		}
		srcs[name] = src
	}
	if diags.HasErrors() {
		return &Config{Files: map[string]*hcl.File{}}, diags
	}
	cfg, more := loadSources(srcs, opts)
	return cfg, append(diags, more...)
}

// LoadSources is Load over in-memory files (name -> content). A name ending
// in ".json" is parsed as HCL JSON, anything else as native syntax.
func LoadSources(files map[string][]byte, opts Options) (*Config, hcl.Diagnostics) {
	return loadSources(files, opts)
}

// configFiles lists the files Load reads for path.
func configFiles(path string) ([]string, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read configuration",
			Detail:   fmt.Sprintf("Cannot read %q: %s.", path, err),
		}}
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	list, d := listDir(path)
	if d != nil {
		return nil, hcl.Diagnostics{d}
	}
	names := append(list.native, list.json...)
	if len(names) == 0 {
		return nil, hcl.Diagnostics{list.nothingToRead(path)}
	}
	sort.Strings(names)
	return names, nil
}

// dirListing is what a configuration directory holds.
type dirListing struct {
	native, json []string // *.pc.hcl and *.pc.json files, joined with the directory
	others       []string // everything else by name; directories end in "/"
}

// listDir lists dir (not recursive); hidden files are never read.
func listDir(dir string) (dirListing, *hcl.Diagnostic) {
	var l dirListing
	entries, err := os.ReadDir(dir)
	if err != nil {
		return l, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Failed to read configuration directory",
			Detail:   fmt.Sprintf("Cannot list %q: %s.", dir, err),
		}
	}
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
			l.others = append(l.others, n+"/")
		case strings.HasPrefix(n, "."):
			l.others = append(l.others, n)
		case strings.HasSuffix(n, nativeSuffix):
			l.native = append(l.native, filepath.Join(dir, n))
		case strings.HasSuffix(n, jsonSuffix):
			l.json = append(l.json, filepath.Join(dir, n))
		default:
			l.others = append(l.others, n)
		}
	}
	return l, nil
}

// nothingToRead says that dir holds no configuration file: what it saw
// instead, and which names portcheck reads (a directory of x.hcl or x.tf
// files said only "no files").
func (l dirListing) nothingToRead(dir string) *hcl.Diagnostic {
	reads := fmt.Sprintf("portcheck reads the *%s (native syntax) and *%s (JSON) files of a directory, not hidden files and not subdirectories", nativeSuffix, jsonSuffix)
	if len(l.others) == 0 {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No configuration files",
			Detail: fmt.Sprintf("The directory %q is empty; %s.", dir, reads)}
	}
	const shown = 5
	saw := l.others
	if len(saw) > shown {
		saw = append(saw[:shown:shown], fmt.Sprintf("%d more", len(l.others)-shown))
	}
	list := strings.Join(saw, ", ")
	if i := strings.LastIndex(list, ", "); i >= 0 {
		list = list[:i] + " and " + list[i+2:]
	}
	detail := fmt.Sprintf("The directory %q holds %s, but no configuration file: %s.", dir, list, reads)
	for _, n := range l.others {
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "/") {
			continue
		}
		var renamed string
		switch {
		case strings.HasSuffix(n, ".hcl"):
			renamed = strings.TrimSuffix(n, ".hcl") + nativeSuffix
		case strings.HasSuffix(n, ".json"):
			renamed = strings.TrimSuffix(n, ".json") + jsonSuffix
		}
		if renamed != "" {
			detail += fmt.Sprintf(" If %s is a portcheck configuration, rename it to %s.", n, renamed)
			break
		}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No configuration files", Detail: detail}
}

func isJSONName(name string) bool { return strings.HasSuffix(name, ".json") }

// loader carries the state shared by the phases of one load.
type loader struct {
	parser *hclparse.Parser
	cfg    *Config

	vars   map[string]*variableDecl
	locals map[string]*localValue
	hosts  map[string]*Host
	// providers are the cloud provider blocks by type.
	providers map[string]*CloudProvider
	// hostOK says a host decoded without errors, so checks that depend on
	// its addresses are meaningful (no cascades from a broken host).
	hostOK map[string]bool
}

func loadSources(srcs map[string][]byte, opts Options) (*Config, hcl.Diagnostics) {
	if cfg, diags, ok := loadSourcesOnce(srcs, opts, true); ok {
		return cfg, diags
	}
	// A piece parsed late held something unexpected: everything again,
	// every file parsed whole, so diagnostics are those of a whole parse.
	cfg, diags, _ := loadSourcesOnce(srcs, opts, false)
	return cfg, diags
}

// loadSourcesOnce loads the files, parsing large ones in pieces when
// pieces is set (chunk.go); ok is false when that has to be undone.
func loadSourcesOnce(srcs map[string][]byte, opts Options, pieces bool) (*Config, hcl.Diagnostics, bool) {
	l := &loader{
		parser:    hclparse.NewParser(),
		vars:      map[string]*variableDecl{},
		locals:    map[string]*localValue{},
		hosts:     map[string]*Host{},
		hostOK:    map[string]bool{},
		providers: map[string]*CloudProvider{},
	}
	l.cfg = &Config{}

	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)

	var diags hcl.Diagnostics
	var files []parsedFile
	for i, p := range parseAll(names, srcs, pieces) {
		diags = append(diags, p.diags...)
		if p.file == nil {
			continue
		}
		// A file refused before parsing has no Body, only its bytes, so
		// its diagnostic can show the line.
		l.parser.AddFile(names[i], p.file)
		if p.file.Body != nil {
			files = append(files, p)
		}
	}
	l.cfg.Files = l.parser.Files()
	// A syntax error leaves a partial tree; decoding it would only add
	// follow-on errors about things that are really fine.
	if diags.HasErrors() {
		return l.cfg, diags, true
	}

	var varBlocks, localBlocks, hostBlocks, providerBlocks, sgBlocks, changeBlocks, attBlocks hcl.Blocks
	var endpoints []endpointItem
	for _, f := range files {
		content, d := f.file.Body.Content(rootSchema)
		diags = append(diags, d...)
		if content == nil {
			continue
		}
		deferred := f.deferred
		for _, b := range content.Blocks {
			// Pieces parsed later keep their place among the blocks.
			for len(deferred) > 0 && deferred[0].pos.Byte < b.DefRange.Start.Byte {
				endpoints, deferred = append(endpoints, endpointItem{later: deferred[0]}), deferred[1:]
			}
			switch b.Type {
			case "variable":
				varBlocks = append(varBlocks, b)
			case "locals":
				localBlocks = append(localBlocks, b)
			case "host":
				hostBlocks = append(hostBlocks, b)
			case "endpoint":
				endpoints = append(endpoints, endpointItem{block: b})
			case "provider":
				providerBlocks = append(providerBlocks, b)
			case "security_group":
				sgBlocks = append(sgBlocks, b)
			case "change":
				changeBlocks = append(changeBlocks, b)
			case "attestation":
				attBlocks = append(attBlocks, b)
			}
		}
		for _, c := range deferred {
			endpoints = append(endpoints, endpointItem{later: c})
		}
	}

	diags = append(diags, l.declareVariables(varBlocks)...)
	diags = append(diags, l.assignVariables(opts)...)
	diags = append(diags, l.resolveLocals(localBlocks)...)
	diags = append(diags, l.declareHosts(hostBlocks)...)
	diags = append(diags, l.declareProviders(providerBlocks)...)
	diags = append(diags, l.declareSecurityGroups(sgBlocks)...)
	d, ok := l.declareEndpoints(endpoints)
	if !ok {
		return nil, nil, false
	}
	diags = append(diags, d...)
	diags = append(diags, l.declareChanges(changeBlocks, attBlocks)...)
	l.cfg.Files = l.parser.Files() // now including -var-file files
	return l.cfg, diags, true
}

func (l *loader) declareHosts(blocks hcl.Blocks) hcl.Diagnostics {
	var diags hcl.Diagnostics
	s := l.scope(rootVar, rootLocal)
	s.denied = "A host block can only refer to var.* and local.*; hosts are decoded before the host object exists."
	var bastions []*pendingBastion
	for _, b := range blocks {
		name := b.Labels[0]
		diags = append(diags, checkName("host", b)...)
		if first, dup := l.hosts[name]; dup {
			diags = append(diags, duplicateDiag("host", name, first.DeclRange, b.DefRange))
			continue
		}
		h, pending, d := decodeHostBlock(b, s)
		diags = append(diags, d...)
		if pending != nil {
			bastions = append(bastions, pending)
		}
		l.hosts[name] = h
		l.hostOK[name] = !d.HasErrors() && len(h.Addresses) > 0
		l.cfg.Hosts = append(l.cfg.Hosts, h)
	}
	return append(diags, l.resolveBastions(bastions)...)
}

// endpointItem is an endpoint block, or a piece of a file of endpoint
// blocks still to be parsed (chunk.go).
type endpointItem struct {
	block *hcl.Block
	later *deferredChunk
}

// declareEndpoints decodes endpoints in parallel: each reads only the
// finished variables, locals and hosts, and writes only its own Endpoint.
// Names are checked first, in order, so duplicates are reported the same
// way every time. Pieces of endpoint blocks are parsed here, a few at a
// time, and their trees dropped once decoded; ok is false when one held
// something else (the load starts again without pieces).
func (l *loader) declareEndpoints(items []endpointItem) (hcl.Diagnostics, bool) {
	s := l.scope(rootVar, rootLocal, rootHost)
	seen := map[string]hcl.Range{}
	var diags hcl.Diagnostics
	window := max(runtime.GOMAXPROCS(0), 2)
	for len(items) > 0 {
		// The blocks up to the window's last piece, in file order.
		n, pieces := 0, 0
		for n < len(items) && (items[n].later == nil || pieces < window) {
			if items[n].later != nil {
				pieces++
			}
			n++
		}
		batch := items[:n]
		items = items[n:]
		parsed := make([]hcl.Blocks, len(batch))
		oks := make([]bool, len(batch))
		parallelFor(len(batch), func(i int) {
			if c := batch[i].later; c != nil {
				parsed[i], oks[i] = c.blocks()
			} else {
				parsed[i], oks[i] = hcl.Blocks{batch[i].block}, true
			}
		})
		var blocks hcl.Blocks
		for i := range batch {
			if !oks[i] {
				return nil, false
			}
			blocks = append(blocks, parsed[i]...)
		}
		diags = append(diags, l.declareEndpointBlocks(blocks, s, seen)...)
	}
	return diags, true
}

func (l *loader) declareEndpointBlocks(blocks hcl.Blocks, s *scope, seen map[string]hcl.Range) hcl.Diagnostics {
	type result struct {
		pre   hcl.Diagnostics // name checks
		skip  bool
		e     *Endpoint
		diags hcl.Diagnostics
	}
	results := make([]result, len(blocks))
	for i, b := range blocks {
		name := b.Labels[0]
		results[i].pre = checkName("endpoint", b)
		if first, dup := seen[name]; dup {
			results[i].pre = append(results[i].pre, duplicateDiag("endpoint", name, first, b.DefRange))
			results[i].skip = true
			continue
		}
		seen[name] = b.DefRange
	}
	parallelFor(len(blocks), func(i int) {
		if !results[i].skip {
			results[i].e, results[i].diags = l.decodeEndpointBlock(blocks[i], s)
		}
	})
	var diags hcl.Diagnostics
	for _, r := range results {
		diags = append(diags, r.pre...)
		diags = append(diags, r.diags...)
		if r.e != nil {
			l.cfg.Endpoints = append(l.cfg.Endpoints, r.e)
		}
	}
	return diags
}

// parseAll parses the files in parallel: lexing is most of the time a large
// configuration takes to load, and files are independent. The results are
// registered with the hclparse.Parser in name order afterwards, since the
// Parser itself is not safe for concurrent use.
func parseAll(names []string, srcs map[string][]byte, pieces bool) []parsedFile {
	out := make([]parsedFile, len(names))
	parallelFor(len(names), func(i int) {
		name := names[i]
		if !isJSONName(name) {
			out[i] = parseNative(name, srcs[name], pieces)
			return
		}
		if d := checkSource(name, srcs[name]); d != nil {
			out[i].file, out[i].diags = printableSource(srcs[name]), d
			return
		}
		out[i].file, out[i].diags = json.Parse(srcs[name], name)
	})
	return out
}

// parallelFor calls fn(0..n-1) on up to GOMAXPROCS goroutines and waits.
func parallelFor(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
