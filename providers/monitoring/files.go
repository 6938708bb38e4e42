package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portcheck/portcheck/internal/textfile"
)

// TargetGroup is one {targets, labels} entry, as file_sd files and
// static_configs hold them.
type TargetGroup struct {
	Targets []string          `json:"targets" yaml:"targets"`
	Labels  map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// FileSDFacts is one file_sd target file.
type FileSDFacts struct {
	Path   string        `json:"path"`
	Format string        `json:"format"` // "json" or "yaml"
	Groups []TargetGroup `json:"groups"`
}

// ReadFileSD reads a file_sd target file. Like Prometheus, the format
// follows the extension: .json, or .yml/.yaml.
func ReadFileSD(ctx context.Context, path string) (*FileSDFacts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := textfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("file_sd: %w", err)
	}
	return ParseFileSD(path, f.Data)
}

// labelName is Prometheus's label name syntax.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ParseFileSD parses a file_sd file's content; name's extension picks the
// format. Prometheus's own checks apply: a list of groups, targets are
// non-empty strings, label names are valid.
func ParseFileSD(name string, data []byte) (*FileSDFacts, error) {
	f := &FileSDFacts{Path: name, Groups: []TargetGroup{}}
	var err error
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json":
		f.Format = "json"
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(&f.Groups)
		if err == nil && dec.More() {
			err = fmt.Errorf("text after the list")
		}
	case ".yml", ".yaml":
		f.Format = "yaml"
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&f.Groups)
		if err != nil && err.Error() == "EOF" {
			err = nil // an empty file is an empty list
		}
	default:
		return nil, fmt.Errorf("file_sd %s: extension %q: Prometheus reads .json, .yml and .yaml files", name, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("file_sd %s: %v", name, err)
	}
	if f.Groups == nil {
		f.Groups = []TargetGroup{}
	}
	if err := checkGroups(f.Groups); err != nil {
		return nil, fmt.Errorf("file_sd %s: %v", name, err)
	}
	return f, nil
}

func checkGroups(groups []TargetGroup) error {
	for i, g := range groups {
		for _, t := range g.Targets {
			if strings.TrimSpace(t) == "" {
				return fmt.Errorf("group %d: an empty target", i+1)
			}
		}
		for k := range g.Labels {
			if !labelName.MatchString(k) {
				return fmt.Errorf("group %d: %q is not a valid label name", i+1, k)
			}
		}
	}
	return nil
}

// ScrapeConfigFacts are the jobs of a Prometheus configuration file.
type ScrapeConfigFacts struct {
	Path string `json:"path"`
	Jobs []Job  `json:"jobs"`
	// Unresolved names what the facts do not contain: scrape_config_files
	// (not read), service discovery other than static and file.
	Unresolved []string `json:"unresolved,omitempty"`
}

// Job is one scrape_configs entry.
type Job struct {
	Name        string              `json:"name"`
	MetricsPath string              `json:"metrics_path,omitempty"`
	Scheme      string              `json:"scheme,omitempty"`
	Params      map[string][]string `json:"params,omitempty"`
	Static      []TargetGroup       `json:"static,omitempty"`
	// FileSD are the files_sd_configs' file patterns (relative to the
	// configuration file's directory, as Prometheus reads them).
	FileSD []string `json:"file_sd,omitempty"`
	// Relabelings counts relabel_configs: when non-zero, the targets as
	// written are not the addresses scraped (a blackbox job's are probe
	// targets), which FindInScrapeConfig's evidence says.
	Relabelings int `json:"relabelings"`
}

// scrapeConfig is the part of prometheus.yml read here; other keys are
// ignored.
type scrapeConfig struct {
	ScrapeConfigFiles []string `yaml:"scrape_config_files"`
	ScrapeConfigs     []struct {
		JobName       string              `yaml:"job_name"`
		MetricsPath   string              `yaml:"metrics_path"`
		Scheme        string              `yaml:"scheme"`
		Params        map[string][]string `yaml:"params"`
		StaticConfigs []TargetGroup       `yaml:"static_configs"`
		FileSDConfigs []struct {
			Files []string `yaml:"files"`
		} `yaml:"file_sd_configs"`
		RelabelConfigs []yaml.Node    `yaml:"relabel_configs"`
		Rest           map[string]any `yaml:",inline"`
	} `yaml:"scrape_configs"`
}

// ReadScrapeConfig reads a Prometheus configuration file's scrape jobs.
func ReadScrapeConfig(ctx context.Context, path string) (*ScrapeConfigFacts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := textfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("prometheus config: %w", err)
	}
	return ParseScrapeConfig(path, f.Data)
}

// ParseScrapeConfig parses a Prometheus configuration's scrape_configs.
func ParseScrapeConfig(name string, data []byte) (*ScrapeConfigFacts, error) {
	var c scrapeConfig
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("prometheus config %s: %v", name, err)
	}
	f := &ScrapeConfigFacts{Path: name, Jobs: []Job{}}
	for _, p := range c.ScrapeConfigFiles {
		f.Unresolved = append(f.Unresolved, "scrape_config_files "+p+" not read")
	}
	seen := map[string]bool{}
	for i, sc := range c.ScrapeConfigs {
		if sc.JobName == "" {
			return nil, fmt.Errorf("prometheus config %s: scrape config %d has no job_name", name, i+1)
		}
		if seen[sc.JobName] {
			return nil, fmt.Errorf("prometheus config %s: job %q defined twice", name, sc.JobName)
		}
		seen[sc.JobName] = true
		if err := checkGroups(sc.StaticConfigs); err != nil {
			return nil, fmt.Errorf("prometheus config %s: job %q: static_configs %v", name, sc.JobName, err)
		}
		j := Job{Name: sc.JobName, MetricsPath: sc.MetricsPath, Scheme: sc.Scheme, Params: sc.Params,
			Static: sc.StaticConfigs, Relabelings: len(sc.RelabelConfigs)}
		for _, fs := range sc.FileSDConfigs {
			j.FileSD = append(j.FileSD, fs.Files...)
		}
		for k := range sc.Rest {
			if strings.HasSuffix(k, "_sd_configs") {
				f.Unresolved = append(f.Unresolved, fmt.Sprintf("job %q: %s not read (only static and file discovery)", sc.JobName, k))
			}
		}
		f.Jobs = append(f.Jobs, j)
	}
	slices.Sort(f.Unresolved)
	return f, nil
}
