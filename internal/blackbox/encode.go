package blackbox

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File names export writes.
const (
	FileBlackbox = "blackbox.yml"
	FileScrape   = "scrape_configs.yml"
	FileRules    = "rules.yml"
)

// File is one output file.
type File struct {
	Name string
	Data []byte
}

// Files encodes the export: YAML from the typed structs, two-space
// indent, keys in declaration order (maps sorted), each file headed by a
// comment that says where the probes run and what was not exported.
func (e *Export) Files() ([]File, error) {
	head := e.header()
	var out []File
	for _, f := range []struct {
		name, about string
		v           any
	}{
		{FileBlackbox, "blackbox_exporter's modules (--config.file).", e.Blackbox},
		{FileScrape, "a Prometheus scrape_configs fragment: merge it into prometheus.yml.", e.Scrape},
		{FileRules, "Prometheus alerting rules (rule_files).", e.Rules},
	} {
		body, err := encodeYAML(f.v)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: f.name, Data: append([]byte("# "+f.name+": "+f.about+"\n"+head), body...)})
	}
	return out, nil
}

func (e *Export) header() string {
	var b strings.Builder
	b.WriteString("# Written by `portcheck export blackbox` from the HCL: change the HCL and export again.\n")
	where := "the machine blackbox_exporter runs on: the endpoints declared without `from`"
	if e.from != "" {
		where = "host." + e.from + ", where blackbox_exporter runs: the endpoints declared with `from` including it"
	}
	b.WriteString("# blackbox_exporter probes only from where it runs; these probes are for " + where + ".\n")
	b.WriteString("# It checks L4 and L7 from there; `portcheck verify` checks every layer and names the one that broke.\n")
	if len(e.NotExported) > 0 {
		b.WriteString("# Not exported (portcheck verify still checks them):\n")
		for _, n := range e.NotExported {
			b.WriteString("#   " + strings.ReplaceAll(n.String(), "\n", " ") + "\n")
		}
	}
	return b.String()
}

func encodeYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
