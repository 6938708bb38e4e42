package aliyun

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
	vpc "github.com/alibabacloud-go/vpc-20160428/v6/client"

	"github.com/portcheck/portcheck/providers/cloud"
)

// Page sizes: the maxima the APIs accept.
const (
	pageInstances = 100  // DescribeInstances MaxResults
	pageENIs      = 500  // DescribeNetworkInterfaces MaxResults
	pageGroups    = 100  // DescribeSecurityGroups MaxResults
	pageRules     = 1000 // DescribeSecurityGroupAttribute MaxResults
	pageACLs      = 50   // DescribeNetworkAcls PageSize
	pageVSwitches = 50   // DescribeVSwitches PageSize
	batchIDs      = 100  // ids per filter (InstanceIds, SecurityGroupIds, NetworkInterfaceId.N)
	maxPages      = 100_000
)

type reader struct {
	api    *api
	region string
	scope  Scope

	ifaces    map[string]*cloud.Interface
	eniGroups map[string]bool   // the ENI's groups came from DescribeNetworkInterfaces
	primary   map[string]string // instance → its primary ENI
	instRead  map[string]bool   // instances DescribeInstances returned
	account   string

	groups     map[string]*cloud.SecurityGroup
	readOrder  []string
	types      map[string]string // DescribeSecurityGroups SecurityGroupType
	missing    map[string]bool
	prefix     map[string]*cloud.PrefixList
	portLists  map[string][]string
	acls       map[string]*cloud.NetworkACL
	vswitches  map[string]*cloud.Subnet
	targetVPCs map[string]bool
}

func newReader(a *api, region string, scope Scope) *reader {
	return &reader{
		api: a, region: region, scope: scope,
		ifaces: map[string]*cloud.Interface{}, eniGroups: map[string]bool{},
		primary: map[string]string{}, instRead: map[string]bool{},
		groups: map[string]*cloud.SecurityGroup{}, types: map[string]string{},
		missing: map[string]bool{}, prefix: map[string]*cloud.PrefixList{},
		portLists: map[string][]string{}, acls: map[string]*cloud.NetworkACL{},
		vswitches: map[string]*cloud.Subnet{}, targetVPCs: map[string]bool{},
	}
}

func (r *reader) run(ctx context.Context) (*cloud.Snapshot, error) {
	var want []string
	if r.scope.All {
		if err := r.instances(ctx, nil); err != nil {
			return nil, err
		}
		if _, err := r.enis(ctx, nil); err != nil {
			return nil, err
		}
		listed, err := r.listGroups(ctx, nil)
		if err != nil {
			return nil, err
		}
		want = append(want, listed...)
	} else if err := r.resolveTargets(ctx); err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(r.ifaces)) {
		r.targetVPCs[r.ifaces[id].VPC] = true
		want = append(want, r.ifaces[id].Groups...)
	}
	explicit := map[string]bool{}
	for _, g := range r.scope.Groups {
		g = strings.TrimSpace(g)
		explicit[g] = true
		want = append(want, g)
	}

	for _, id := range want {
		if r.groups[id] != nil || r.missing[id] {
			continue
		}
		found, err := r.readGroup(ctx, id)
		if err != nil {
			return nil, err
		}
		if !found {
			if explicit[id] {
				return nil, fmt.Errorf("aliyun: security group %s not found in region %s", id, r.region)
			}
			r.missing[id] = true
		}
	}
	for _, id := range r.scope.Groups {
		if g := r.groups[strings.TrimSpace(id)]; g != nil {
			r.targetVPCs[g.VPC] = true
		}
	}

	// The groups the rules reference, one level deep and in this account
	// only (another account's groups cannot be described): read so that
	// deleted ones show up as MissingGroups and, below, their members.
	for _, id := range slices.Clone(r.readOrder) {
		for _, rule := range r.groups[id].Rules {
			p := rule.Peer.Group
			if p == "" || r.groups[p] != nil || r.missing[p] {
				continue
			}
			if o := rule.Peer.GroupOwner; o != "" && o != r.account {
				continue
			}
			found, err := r.readGroup(ctx, p)
			if err != nil {
				return nil, err
			}
			if !found {
				r.missing[p] = true
			}
		}
	}

	if !r.scope.All {
		ids := slices.Sorted(maps.Keys(r.groups))
		if _, err := r.listGroups(ctx, ids); err != nil {
			return nil, err
		}
		for _, id := range ids {
			if err := r.members(ctx, id); err != nil {
				return nil, err
			}
		}
	}

	for _, id := range slices.Sorted(maps.Keys(r.groups)) {
		for _, rule := range r.groups[id].Rules {
			if pl := rule.Peer.PrefixList; pl != "" {
				if err := r.prefixList(ctx, pl); err != nil {
					return nil, err
				}
			}
		}
	}

	// Network ACLs and the vSwitches' CIDR blocks (traffic within a
	// vSwitch is not filtered by its ACL, whoever the client is).
	vpcs := []string{""}
	if !r.scope.All {
		vpcs = slices.DeleteFunc(slices.Sorted(maps.Keys(r.targetVPCs)), func(v string) bool { return v == "" })
	}
	for _, v := range vpcs {
		if err := r.networkACLs(ctx, v); err != nil {
			return nil, err
		}
		if err := r.vSwitches(ctx, v); err != nil {
			return nil, err
		}
	}

	s := r.snapshot()
	for _, t := range r.scope.Targets {
		if _, err := Resolve(s, t); err != nil {
			return nil, fmt.Errorf("aliyun: target %q not found in region %s", strings.TrimSpace(t), r.region)
		}
	}
	return s, nil
}

// resolveTargets finds the ENIs of the targets: by instance
// (DescribeInstances, then DescribeNetworkInterfaces InstanceId), by id
// (NetworkInterfaceId.N), by address (PrimaryIpAddress, else the
// secondary PrivateIpAddress.N, or Ipv6Address.N).
func (r *reader) resolveTargets(ctx context.Context) error {
	var insts, enis []string
	var ips []netip.Addr
	for _, t := range r.scope.Targets {
		t = strings.TrimSpace(t)
		k, err := classify(t)
		if err != nil {
			return err
		}
		switch k {
		case kindInstance:
			if !slices.Contains(insts, t) {
				insts = append(insts, t)
			}
		case kindENI:
			if !slices.Contains(enis, t) {
				enis = append(enis, t)
			}
		case kindIP:
			ips = append(ips, netip.MustParseAddr(t).Unmap().WithZone(""))
		}
	}
	for chunk := range slices.Chunk(insts, batchIDs) {
		ids := jsonArray(chunk)
		if err := r.instances(ctx, func(q *ecs.DescribeInstancesRequest) { q.InstanceIds = &ids }); err != nil {
			return err
		}
	}
	for _, id := range insts {
		if !r.instRead[id] {
			return fmt.Errorf("aliyun: target %q: no such instance in region %s", id, r.region)
		}
		if _, err := r.enis(ctx, func(q *ecs.DescribeNetworkInterfacesRequest) { q.InstanceId = tea.String(id) }); err != nil {
			return err
		}
	}
	for chunk := range slices.Chunk(enis, batchIDs) {
		if _, err := r.enis(ctx, func(q *ecs.DescribeNetworkInterfacesRequest) { q.NetworkInterfaceId = tea.StringSlice(chunk) }); err != nil {
			return err
		}
	}
	for _, id := range enis {
		if r.ifaces[id] == nil {
			return fmt.Errorf("aliyun: target %q: no such network interface in region %s", id, r.region)
		}
	}
	for _, a := range ips {
		s := a.String()
		var got []string
		var err error
		if a.Is4() {
			got, err = r.enis(ctx, func(q *ecs.DescribeNetworkInterfacesRequest) { q.PrimaryIpAddress = tea.String(s) })
			if err == nil && len(got) == 0 {
				got, err = r.enis(ctx, func(q *ecs.DescribeNetworkInterfacesRequest) { q.PrivateIpAddress = tea.StringSlice([]string{s}) })
			}
		} else {
			got, err = r.enis(ctx, func(q *ecs.DescribeNetworkInterfacesRequest) { q.Ipv6Address = tea.StringSlice([]string{s}) })
		}
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return fmt.Errorf("aliyun: target %q: no network interface has this private address in region %s", s, r.region)
		}
	}
	// Public addresses that are not EIPs are only in DescribeInstances.
	var more []string
	for _, inst := range slices.Sorted(maps.Keys(r.primary)) {
		if !r.instRead[inst] {
			more = append(more, inst)
		}
	}
	for chunk := range slices.Chunk(more, batchIDs) {
		ids := jsonArray(chunk)
		if err := r.instances(ctx, func(q *ecs.DescribeInstancesRequest) { q.InstanceIds = &ids }); err != nil {
			return err
		}
	}
	return nil
}

// members lists the interfaces of a group: instances (their primary
// ENIs) by DescribeInstances, secondary ENIs by DescribeNetworkInterfaces
// — its SecurityGroupId filter only matches secondary ENIs.
func (r *reader) members(ctx context.Context, group string) error {
	if err := r.instances(ctx, func(q *ecs.DescribeInstancesRequest) { q.SecurityGroupId = tea.String(group) }); err != nil {
		return err
	}
	_, err := r.enis(ctx, func(q *ecs.DescribeNetworkInterfacesRequest) { q.SecurityGroupId = tea.String(group) })
	return err
}

func jsonArray(ids []string) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

// pager guards NextToken loops against a token the API repeats.
type pager struct {
	action string
	seen   map[string]bool
	n      int
}

func (p *pager) next(token string) (string, bool, error) {
	if token == "" {
		return "", false, nil
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.n++
	if p.seen[token] || p.n > maxPages {
		return "", false, fmt.Errorf("aliyun: %s: pagination does not end (NextToken %q repeated)", p.action, token)
	}
	p.seen[token] = true
	return token, true, nil
}

func (r *reader) instances(ctx context.Context, filter func(*ecs.DescribeInstancesRequest)) error {
	pg := pager{action: "ecs:DescribeInstances"}
	for token, more := "", true; more; {
		q := &ecs.DescribeInstancesRequest{RegionId: tea.String(r.region), MaxResults: tea.Int32(pageInstances)}
		if filter != nil {
			filter(q)
		}
		if token != "" {
			q.NextToken = tea.String(token)
		}
		var resp *ecs.DescribeInstancesResponse
		err := r.api.callECS(ctx, "DescribeInstances", func(ctx context.Context) (err error) {
			resp, err = r.api.ecs.DescribeInstancesWithContext(ctx, q, rtOpts())
			return err
		})
		if err != nil {
			return err
		}
		b := resp.Body
		if b == nil {
			return errors.New("aliyun: ecs:DescribeInstances: empty answer")
		}
		if b.Instances != nil {
			for _, in := range b.Instances.Instance {
				if in != nil {
					r.addInstance(in)
				}
			}
		}
		if token, more, err = pg.next(sv(b.NextToken)); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) enis(ctx context.Context, filter func(*ecs.DescribeNetworkInterfacesRequest)) ([]string, error) {
	var got []string
	pg := pager{action: "ecs:DescribeNetworkInterfaces"}
	for token, more := "", true; more; {
		q := &ecs.DescribeNetworkInterfacesRequest{RegionId: tea.String(r.region), MaxResults: tea.Int32(pageENIs)}
		if filter != nil {
			filter(q)
		}
		if token != "" {
			q.NextToken = tea.String(token)
		}
		var resp *ecs.DescribeNetworkInterfacesResponse
		err := r.api.callECS(ctx, "DescribeNetworkInterfaces", func(ctx context.Context) (err error) {
			resp, err = r.api.ecs.DescribeNetworkInterfacesWithContext(ctx, q, rtOpts())
			return err
		})
		if err != nil {
			return nil, err
		}
		b := resp.Body
		if b == nil {
			return nil, errors.New("aliyun: ecs:DescribeNetworkInterfaces: empty answer")
		}
		if b.NetworkInterfaceSets != nil {
			for _, n := range b.NetworkInterfaceSets.NetworkInterfaceSet {
				if n != nil && sv(n.NetworkInterfaceId) != "" {
					got = append(got, r.addENI(n))
				}
			}
		}
		if token, more, err = pg.next(sv(b.NextToken)); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// listGroups reads DescribeSecurityGroups (all groups of the region, or
// the given ones) for the group types; it returns the ids listed.
func (r *reader) listGroups(ctx context.Context, ids []string) ([]string, error) {
	var got []string
	list := func(filter string) error {
		pg := pager{action: "ecs:DescribeSecurityGroups"}
		for token, more := "", true; more; {
			q := &ecs.DescribeSecurityGroupsRequest{RegionId: tea.String(r.region), MaxResults: tea.Int32(pageGroups)}
			if filter != "" {
				q.SecurityGroupIds = tea.String(filter)
			}
			if token != "" {
				q.NextToken = tea.String(token)
			}
			var resp *ecs.DescribeSecurityGroupsResponse
			err := r.api.callECS(ctx, "DescribeSecurityGroups", func(ctx context.Context) (err error) {
				resp, err = r.api.ecs.DescribeSecurityGroupsWithContext(ctx, q, rtOpts())
				return err
			})
			if err != nil {
				return err
			}
			b := resp.Body
			if b == nil {
				return errors.New("aliyun: ecs:DescribeSecurityGroups: empty answer")
			}
			if b.SecurityGroups != nil {
				for _, g := range b.SecurityGroups.SecurityGroup {
					if g == nil || sv(g.SecurityGroupId) == "" {
						continue
					}
					id := sv(g.SecurityGroupId)
					r.types[id] = strings.ToLower(sv(g.SecurityGroupType))
					got = append(got, id)
				}
			}
			if token, more, err = pg.next(sv(b.NextToken)); err != nil {
				return err
			}
		}
		return nil
	}
	if ids == nil {
		return got, list("")
	}
	for chunk := range slices.Chunk(ids, batchIDs) {
		if err := list(jsonArray(chunk)); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// readGroup reads a group and its rules (DescribeSecurityGroupAttribute,
// both directions, every page); false when the API says it does not
// exist (InvalidSecurityGroupId.NotFound, HTTP 404).
func (r *reader) readGroup(ctx context.Context, id string) (bool, error) {
	g := &cloud.SecurityGroup{Provider: cloud.Aliyun, Region: r.region, ID: id, Rules: []cloud.Rule{}, Attachments: []string{}}
	var perms []*permission
	pg := pager{action: "ecs:DescribeSecurityGroupAttribute"}
	first := true
	for token, more := "", true; more; {
		q := &ecs.DescribeSecurityGroupAttributeRequest{
			RegionId: tea.String(r.region), SecurityGroupId: tea.String(id),
			Direction: tea.String("all"), MaxResults: tea.Int32(pageRules),
		}
		if token != "" {
			q.NextToken = tea.String(token)
		}
		var resp *ecs.DescribeSecurityGroupAttributeResponse
		err := r.api.callECS(ctx, "DescribeSecurityGroupAttribute", func(ctx context.Context) (err error) {
			resp, err = r.api.ecs.DescribeSecurityGroupAttributeWithContext(ctx, q, rtOpts())
			return err
		})
		if err != nil {
			if first && isNotFound(err, "SecurityGroupId") {
				return false, nil
			}
			return false, err
		}
		b := resp.Body
		if b == nil {
			return false, errors.New("aliyun: ecs:DescribeSecurityGroupAttribute: empty answer")
		}
		if first {
			switch got := sv(b.SecurityGroupId); got {
			case "":
				return false, nil
			case id:
			default:
				return false, fmt.Errorf("aliyun: ecs:DescribeSecurityGroupAttribute: asked for %s, got %s", id, got)
			}
			g.Name = sv(b.SecurityGroupName)
			g.VPC = sv(b.VpcId)
			g.InnerAccessPolicy = normInnerAccess(sv(b.InnerAccessPolicy))
			first = false
		}
		if b.Permissions != nil {
			perms = append(perms, b.Permissions.Permission...)
		}
		if token, more, err = pg.next(sv(b.NextToken)); err != nil {
			return false, err
		}
	}
	ports := func(list string) ([]string, error) { return r.portList(ctx, list) }
	for _, p := range perms {
		if p == nil {
			continue
		}
		rules, err := convertPermission(id, p, ports)
		if err != nil {
			return false, fmt.Errorf("aliyun: %w", err)
		}
		g.Rules = append(g.Rules, rules...)
	}
	r.groups[id] = g
	r.readOrder = append(r.readOrder, id)
	return true, nil
}

func (r *reader) portList(ctx context.Context, id string) ([]string, error) {
	if l, ok := r.portLists[id]; ok {
		return l, nil
	}
	q := &ecs.DescribePortRangeListEntriesRequest{RegionId: tea.String(r.region), PortRangeListId: tea.String(id)}
	var resp *ecs.DescribePortRangeListEntriesResponse
	err := r.api.callECS(ctx, "DescribePortRangeListEntries", func(ctx context.Context) (err error) {
		resp, err = r.api.ecs.DescribePortRangeListEntriesWithContext(ctx, q, rtOpts())
		return err
	})
	if err != nil {
		return nil, err
	}
	l := []string{}
	if resp.Body != nil {
		for _, e := range resp.Body.Entries {
			if e != nil && sv(e.PortRange) != "" {
				l = append(l, sv(e.PortRange))
			}
		}
	}
	r.portLists[id] = l
	return l, nil
}

// prefixList reads a prefix list's entries; one that does not exist is
// left out (the evaluators then call its rules unresolved).
func (r *reader) prefixList(ctx context.Context, id string) error {
	if _, ok := r.prefix[id]; ok {
		return nil
	}
	q := &ecs.DescribePrefixListAttributesRequest{RegionId: tea.String(r.region), PrefixListId: tea.String(id)}
	var resp *ecs.DescribePrefixListAttributesResponse
	err := r.api.callECS(ctx, "DescribePrefixListAttributes", func(ctx context.Context) (err error) {
		resp, err = r.api.ecs.DescribePrefixListAttributesWithContext(ctx, q, rtOpts())
		return err
	})
	if err != nil {
		if isNotFound(err, "PrefixList") {
			r.prefix[id] = nil
			return nil
		}
		return err
	}
	b := resp.Body
	if b == nil {
		return errors.New("aliyun: ecs:DescribePrefixListAttributes: empty answer")
	}
	pl := &cloud.PrefixList{ID: id, Name: sv(b.PrefixListName), CIDRs: []netip.Prefix{}}
	if b.Entries != nil {
		for _, e := range b.Entries.Entry {
			if e == nil {
				continue
			}
			c, err := parseCIDR(sv(e.Cidr))
			if err != nil {
				return fmt.Errorf("aliyun: prefix list %s: %w", id, err)
			}
			pl.CIDRs = append(pl.CIDRs, c)
		}
	}
	r.prefix[id] = pl
	return nil
}

// networkACLs reads the network ACLs of a VPC ("": of the region),
// page by page (PageNumber/PageSize: this API has no NextToken).
func (r *reader) networkACLs(ctx context.Context, vpcID string) error {
	seen := 0
	for page := int32(1); page <= maxPages; page++ {
		q := &vpc.DescribeNetworkAclsRequest{RegionId: tea.String(r.region), PageNumber: tea.Int32(page), PageSize: tea.Int32(pageACLs)}
		if vpcID != "" {
			q.VpcId = tea.String(vpcID)
		}
		var resp *vpc.DescribeNetworkAclsResponse
		err := r.api.callVPC(ctx, "DescribeNetworkAcls", func() (err error) {
			resp, err = r.api.vpc.DescribeNetworkAclsWithOptions(q, rtOpts())
			return err
		})
		if err != nil {
			return err
		}
		b := resp.Body
		if b == nil {
			return errors.New("aliyun: vpc:DescribeNetworkAcls: empty answer")
		}
		n := 0
		if b.NetworkAcls != nil {
			for _, a := range b.NetworkAcls.NetworkAcl {
				if a == nil {
					continue
				}
				n++
				acl, err := convertACL(r.region, a)
				if err != nil {
					return fmt.Errorf("aliyun: %w", err)
				}
				r.acls[acl.ID] = acl
			}
		}
		seen += n
		total, err := atoiOr(sv(b.TotalCount), -1)
		if err != nil {
			return fmt.Errorf("aliyun: vpc:DescribeNetworkAcls: TotalCount: %w", err)
		}
		if n == 0 || (total >= 0 && seen >= total) || (total < 0 && n < pageACLs) {
			return nil
		}
	}
	return errors.New("aliyun: vpc:DescribeNetworkAcls: pagination does not end")
}

// vSwitches reads the vSwitches of a VPC ("": of the region) with their
// CIDR blocks, page by page (PageNumber/PageSize).
func (r *reader) vSwitches(ctx context.Context, vpcID string) error {
	seen := 0
	for page := int32(1); page <= maxPages; page++ {
		q := &vpc.DescribeVSwitchesRequest{RegionId: tea.String(r.region), PageNumber: tea.Int32(page), PageSize: tea.Int32(pageVSwitches)}
		if vpcID != "" {
			q.VpcId = tea.String(vpcID)
		}
		var resp *vpc.DescribeVSwitchesResponse
		err := r.api.callVPC(ctx, "DescribeVSwitches", func() (err error) {
			resp, err = r.api.vpc.DescribeVSwitchesWithOptions(q, rtOpts())
			return err
		})
		if err != nil {
			return err
		}
		b := resp.Body
		if b == nil {
			return errors.New("aliyun: vpc:DescribeVSwitches: empty answer")
		}
		n := 0
		if b.VSwitches != nil {
			for _, v := range b.VSwitches.VSwitch {
				if v == nil {
					continue
				}
				n++
				sn := &cloud.Subnet{ID: sv(v.VSwitchId), VPC: sv(v.VpcId), CIDRs: []netip.Prefix{}}
				for _, c := range []string{sv(v.CidrBlock), sv(v.Ipv6CidrBlock)} {
					if c == "" {
						continue
					}
					p, err := parseCIDR(c)
					if err != nil {
						return fmt.Errorf("aliyun: vSwitch %s: %w", sn.ID, err)
					}
					sn.CIDRs = append(sn.CIDRs, p.Masked())
				}
				if sn.ID != "" {
					r.vswitches[sn.ID] = sn
				}
			}
		}
		seen += n
		total := -1
		if b.TotalCount != nil {
			total = int(*b.TotalCount)
		}
		if n == 0 || (total >= 0 && seen >= total) || (total < 0 && n < pageVSwitches) {
			return nil
		}
	}
	return errors.New("aliyun: vpc:DescribeVSwitches: pagination does not end")
}

func atoiOr(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	var n int
	_, err := fmt.Sscan(s, &n)
	return n, err
}

func (r *reader) iface(id string) *cloud.Interface {
	f := r.ifaces[id]
	if f == nil {
		f = &cloud.Interface{ID: id, PrivateIPs: []netip.Addr{}, Groups: []string{}}
		r.ifaces[id] = f
	}
	return f
}

func addAddr(list *[]netip.Addr, s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return
	}
	a = a.Unmap().WithZone("")
	if !slices.Contains(*list, a) {
		*list = append(*list, a)
	}
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

type (
	instanceBody = ecs.DescribeInstancesResponseBodyInstancesInstance
	eniBody      = ecs.DescribeNetworkInterfacesResponseBodyNetworkInterfaceSetsNetworkInterfaceSet
)

// addInstance records the primary interface of an instance: the
// instance's groups, vSwitch and addresses (fixed public IP, EIP).
// Its secondary ENIs come from DescribeNetworkInterfaces, which has
// their groups.
func (r *reader) addInstance(in *instanceBody) {
	id := sv(in.InstanceId)
	if id == "" {
		return
	}
	r.instRead[id] = true
	var nic *ecs.DescribeInstancesResponseBodyInstancesInstanceNetworkInterfacesNetworkInterface
	if in.NetworkInterfaces != nil {
		for _, n := range in.NetworkInterfaces.NetworkInterface {
			if n != nil && strings.EqualFold(sv(n.Type), "Primary") {
				nic = n
				break
			}
		}
		if l := in.NetworkInterfaces.NetworkInterface; nic == nil && len(l) == 1 && l[0] != nil && sv(l[0].Type) == "" {
			nic = l[0]
		}
	}
	eni := id // classic network: no ENI
	if nic != nil && sv(nic.NetworkInterfaceId) != "" {
		eni = sv(nic.NetworkInterfaceId)
	}
	f := r.iface(eni)
	f.Instance = id
	r.primary[id] = eni
	if nic != nil {
		addAddr(&f.PrivateIPs, sv(nic.PrimaryIpAddress))
		if nic.PrivateIpSets != nil {
			for _, p := range nic.PrivateIpSets.PrivateIpSet {
				if p != nil {
					addAddr(&f.PrivateIPs, sv(p.PrivateIpAddress))
				}
			}
		}
		if nic.Ipv6Sets != nil {
			for _, p := range nic.Ipv6Sets.Ipv6Set {
				if p != nil {
					addAddr(&f.PrivateIPs, sv(p.Ipv6Address))
				}
			}
		}
	}
	if va := in.VpcAttributes; va != nil {
		setIf(&f.Subnet, sv(va.VSwitchId))
		setIf(&f.VPC, sv(va.VpcId))
		if va.PrivateIpAddress != nil {
			for _, a := range va.PrivateIpAddress.IpAddress {
				addAddr(&f.PrivateIPs, sv(a))
			}
		}
	}
	if in.InnerIpAddress != nil {
		for _, a := range in.InnerIpAddress.IpAddress {
			addAddr(&f.PrivateIPs, sv(a))
		}
	}
	if in.PublicIpAddress != nil {
		for _, a := range in.PublicIpAddress.IpAddress {
			addAddr(&f.PublicIPs, sv(a))
		}
	}
	if in.EipAddress != nil {
		addAddr(&f.PublicIPs, sv(in.EipAddress.IpAddress))
	}
	if !r.eniGroups[eni] && in.SecurityGroupIds != nil {
		f.Groups = []string{}
		for _, g := range in.SecurityGroupIds.SecurityGroupId {
			if g := sv(g); g != "" && !slices.Contains(f.Groups, g) {
				f.Groups = append(f.Groups, g)
			}
		}
	}
}

// addENI records an ENI of DescribeNetworkInterfaces: its groups are
// authoritative for the interface.
func (r *reader) addENI(n *eniBody) string {
	id := sv(n.NetworkInterfaceId)
	f := r.iface(id)
	inst := sv(n.InstanceId)
	if inst == "" && n.Attachment != nil {
		inst = sv(n.Attachment.InstanceId)
	}
	setIf(&f.Instance, inst)
	if inst != "" && strings.EqualFold(sv(n.Type), "Primary") {
		r.primary[inst] = id
	}
	setIf(&f.Subnet, sv(n.VSwitchId))
	setIf(&f.VPC, sv(n.VpcId))
	addAddr(&f.PrivateIPs, sv(n.PrivateIpAddress))
	if n.PrivateIpSets != nil {
		sets := slices.Clone(n.PrivateIpSets.PrivateIpSet)
		sets = slices.DeleteFunc(sets, func(p *ecs.DescribeNetworkInterfacesResponseBodyNetworkInterfaceSetsNetworkInterfaceSetPrivateIpSetsPrivateIpSet) bool {
			return p == nil
		})
		slices.SortStableFunc(sets, func(a, b *ecs.DescribeNetworkInterfacesResponseBodyNetworkInterfaceSetsNetworkInterfaceSetPrivateIpSetsPrivateIpSet) int {
			return cmpBool(tea.BoolValue(b.Primary), tea.BoolValue(a.Primary))
		})
		for _, p := range sets {
			addAddr(&f.PrivateIPs, sv(p.PrivateIpAddress))
			if p.AssociatedPublicIp != nil {
				addAddr(&f.PublicIPs, sv(p.AssociatedPublicIp.PublicIpAddress))
			}
		}
	}
	if n.Ipv6Sets != nil {
		for _, p := range n.Ipv6Sets.Ipv6Set {
			if p != nil {
				addAddr(&f.PrivateIPs, sv(p.Ipv6Address))
			}
		}
	}
	if n.AssociatedPublicIp != nil {
		addAddr(&f.PublicIPs, sv(n.AssociatedPublicIp.PublicIpAddress))
	}
	if n.SecurityGroupIds != nil {
		f.Groups = []string{}
		for _, g := range n.SecurityGroupIds.SecurityGroupId {
			if g := sv(g); g != "" && !slices.Contains(f.Groups, g) {
				f.Groups = append(f.Groups, g)
			}
		}
		r.eniGroups[id] = true
	}
	if o := sv(n.OwnerId); o != "" && r.account == "" {
		r.account = o
	}
	return id
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func (r *reader) snapshot() *cloud.Snapshot {
	if r.account == "" { // no interface: the account of the network ACLs
		for _, id := range slices.Sorted(maps.Keys(r.acls)) {
			if a := r.acls[id].Account; a != "" {
				r.account = a
				break
			}
		}
	}
	s := &cloud.Snapshot{
		Provider:   cloud.Aliyun,
		Account:    r.account,
		Region:     r.region,
		Interfaces: []cloud.Interface{},
		Groups:     map[string]*cloud.SecurityGroup{},
		ACLs:       []*cloud.NetworkACL{},
		Complete:   r.scope.All,
	}
	for _, id := range slices.Sorted(maps.Keys(r.ifaces)) {
		f := *r.ifaces[id]
		// IPv4 first, then IPv6, each in the API's order (primary first).
		slices.SortStableFunc(f.PrivateIPs, func(a, b netip.Addr) int { return cmpBool(a.Is6(), b.Is6()) })
		s.Interfaces = append(s.Interfaces, f)
	}
	for id, g := range r.groups {
		g.Account = r.account
		g.Type = r.types[id]
		// Every group read had its members listed: by SecurityGroupId
		// (targets), or with every instance and ENI of the region (All).
		g.MembersListed = true
		g.Attachments = []string{}
		for _, f := range s.Interfaces {
			if slices.Contains(f.Groups, id) {
				g.Attachments = append(g.Attachments, f.ID)
			}
		}
		s.Groups[id] = g
	}
	for _, id := range slices.Sorted(maps.Keys(r.acls)) {
		s.ACLs = append(s.ACLs, r.acls[id])
	}
	for _, id := range slices.Sorted(maps.Keys(r.vswitches)) {
		s.Subnets = append(s.Subnets, *r.vswitches[id])
	}
	for id, pl := range r.prefix {
		if pl == nil {
			continue
		}
		if s.PrefixLists == nil {
			s.PrefixLists = map[string]*cloud.PrefixList{}
		}
		s.PrefixLists[id] = pl
	}
	if len(r.missing) > 0 {
		s.MissingGroups = slices.SortedFunc(maps.Keys(r.missing), cmp.Compare[string])
	}
	return s
}
