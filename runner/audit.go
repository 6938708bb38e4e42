package runner

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/cloud"
)

// AuditGroup is one security group in an audit: its drift from the
// declaration (when declared) and the findings that need no declaration.
type AuditGroup struct {
	ID          string          `json:"id"`
	Name        string          `json:"name,omitempty"`
	VPC         string          `json:"vpc,omitempty"`
	Declared    string          `json:"declared,omitempty"` // file:line of its security_group block
	Missing     bool            `json:"missing,omitempty"`  // declared but not found in the cloud
	Attachments int             `json:"attachments"`
	Drift       []cloud.Drift   `json:"drift,omitempty"`
	Findings    []cloud.Finding `json:"findings,omitempty"`
}

// AuditScope is one provider, account and region.
type AuditScope struct {
	Provider string        `json:"provider"`
	Account  string        `json:"account,omitempty"`
	Region   string        `json:"region"`
	Error    string        `json:"error,omitempty"` // the cloud could not be read
	Groups   []*AuditGroup `json:"groups"`
}

// AuditSummary counts what an audit found.
type AuditSummary struct {
	Groups         int `json:"groups"`
	Declared       int `json:"declared"`
	Drifted        int `json:"drifted"`        // declared groups that differ
	DriftRules     int `json:"drift_rules"`    // rule-level differences
	MissingGroups  int `json:"missing_groups"` // declared groups not found
	OpenToWorld    int `json:"open_to_world"`  // sensitive ports open to 0.0.0.0/0 or ::/0
	Unattached     int `json:"unattached"`     // groups attached to nothing
	DeletedGroupRf int `json:"deleted_group_references"`
	Errors         int `json:"errors"`
}

// AuditReport is the whole audit.
type AuditReport struct {
	Summary AuditSummary  `json:"summary"`
	Scopes  []*AuditScope `json:"scopes"`
}

// ExitCode: 0 when every declared group is as declared and nothing was
// found; 1 otherwise (also when a cloud could not be read).
func (a *AuditReport) ExitCode() int {
	s := a.Summary
	if s.Drifted+s.MissingGroups+s.OpenToWorld+s.Unattached+s.DeletedGroupRf+s.Errors > 0 {
		return 1
	}
	return 0
}

// AuditOptions tune an audit.
type AuditOptions struct {
	// SensitivePorts are the ports that must not be open to the world
	// (default cloud.DefaultSensitivePorts).
	SensitivePorts []int
	// Read reads a provider's snapshot (default ReadCloud); an audit asks
	// for every interface of the region.
	Read CloudReader
}

// Audit reads every declared provider's region in full and reports drift
// of the declared security groups and findings across all groups.
func Audit(ctx context.Context, cfg *config.Config, opts AuditOptions) *AuditReport {
	if opts.SensitivePorts == nil {
		opts.SensitivePorts = cloud.DefaultSensitivePorts
	}
	if opts.Read == nil {
		opts.Read = ReadCloud
	}
	rep := &AuditReport{}
	for _, p := range cfg.Providers {
		declared := declaredGroups(cfg.SecurityGroups, p)
		var ids []string
		for _, g := range declared {
			ids = append(ids, g.ID)
		}
		scope := &AuditScope{Provider: p.Type}
		rep.Scopes = append(rep.Scopes, scope)
		r, err := cloudReader(p)
		if err != nil {
			scope.Error = err.Error()
			rep.Summary.Errors++
			continue
		}
		scope.Region = r.Region()
		snap, err := opts.Read(ctx, p, nil, ids, true)
		if err != nil {
			scope.Error = err.Error()
			rep.Summary.Errors++
			continue
		}
		scope.Account, scope.Region = snap.Account, snap.Region
		auditScope(scope, snap, declared, opts.SensitivePorts, &rep.Summary)
	}
	return rep
}

func auditScope(scope *AuditScope, snap *cloud.Snapshot, declared []*config.SecurityGroup, sensitive []int, sum *AuditSummary) {
	byID := map[string]*AuditGroup{}
	for id, g := range snap.Groups {
		ag := &AuditGroup{ID: id, Name: g.Name, VPC: g.VPC, Attachments: len(g.Attachments)}
		byID[id] = ag
	}
	for _, d := range declared {
		ag, ok := byID[d.ID]
		if !ok {
			ag = &AuditGroup{ID: d.ID, Missing: true}
			byID[d.ID] = ag
			sum.MissingGroups++
		}
		ag.Declared = config.SourceOf(d.DeclRange)
		sum.Declared++
		if actual, ok := snap.Groups[d.ID]; ok {
			ag.Drift = cloud.Diff(actual, DeclaredGroup(d))
			if len(ag.Drift) > 0 {
				sum.Drifted++
				sum.DriftRules += len(ag.Drift)
			}
		}
	}
	for _, f := range cloud.Findings(snap, sensitive) {
		ag, ok := byID[f.Group]
		if !ok {
			ag = &AuditGroup{ID: f.Group}
			byID[f.Group] = ag
		}
		ag.Findings = append(ag.Findings, f)
		switch f.Kind {
		case cloud.FindingOpenToWorld:
			sum.OpenToWorld++
		case cloud.FindingUnattached:
			sum.Unattached++
		case cloud.FindingDeletedGroupReference:
			sum.DeletedGroupRf++
		}
	}
	for _, ag := range byID {
		scope.Groups = append(scope.Groups, ag)
	}
	// Declared and troubled groups first, then by id.
	sort.Slice(scope.Groups, func(i, j int) bool {
		a, b := scope.Groups[i], scope.Groups[j]
		if ka, kb := auditRank(a), auditRank(b); ka != kb {
			return ka < kb
		}
		return a.ID < b.ID
	})
	sum.Groups += len(snap.Groups)
}

func auditRank(g *AuditGroup) int {
	switch {
	case g.Missing || len(g.Drift) > 0:
		return 0
	case len(g.Findings) > 0:
		return 1
	case g.Declared != "":
		return 2
	}
	return 3
}

// Clean reports whether a group has nothing to say.
func (g *AuditGroup) Clean() bool {
	return !g.Missing && len(g.Drift) == 0 && len(g.Findings) == 0
}

// SortedKinds lists the finding kinds of a group, for display.
func (g *AuditGroup) SortedKinds() []string {
	var out []string
	for _, f := range g.Findings {
		if !slices.Contains(out, f.Kind) {
			out = append(out, f.Kind)
		}
	}
	slices.Sort(out)
	return out
}

func (s AuditSummary) String() string {
	return fmt.Sprintf("%d groups, %d declared, %d drifted (%d rules), %d missing, %d open to the world, %d unattached, %d references to deleted groups, %d errors",
		s.Groups, s.Declared, s.Drifted, s.DriftRules, s.MissingGroups, s.OpenToWorld, s.Unattached, s.DeletedGroupRf, s.Errors)
}
