package aws

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/portcheck/portcheck/providers/cloud"
)

// maxFilterValues is how many values one filter of a call carries (EC2
// accepts up to 200); longer lists are split over several calls.
const maxFilterValues = 200

// reader accumulates one snapshot.
type reader struct {
	client *ec2.Client
	region string

	interfaces  map[string]cloud.Interface
	eniOwners   map[string]string
	groups      map[string]*cloud.SecurityGroup
	groupOrder  []string
	groupPerms  map[string][]types.IpPermission // ingress and egress, to find referenced groups
	missing     map[string]bool
	acls        map[string]*cloud.NetworkACL
	subnets     map[string]*cloud.Subnet
	prefixLists map[string]*cloud.PrefixList
}

func newReader(client *ec2.Client, region string) *reader {
	return &reader{
		client:      client,
		region:      region,
		interfaces:  map[string]cloud.Interface{},
		eniOwners:   map[string]string{},
		groups:      map[string]*cloud.SecurityGroup{},
		groupPerms:  map[string][]types.IpPermission{},
		missing:     map[string]bool{},
		acls:        map[string]*cloud.NetworkACL{},
		subnets:     map[string]*cloud.Subnet{},
		prefixLists: map[string]*cloud.PrefixList{},
	}
}

func (r *reader) read(ctx context.Context, scope Scope, t targets) (*cloud.Snapshot, error) {
	// Interfaces of the scope.
	if scope.All {
		if err := r.listInterfaces(ctx, nil); err != nil {
			return nil, err
		}
	} else {
		enis := slices.Clone(t.enis)
		if len(t.instances) > 0 {
			ids, err := r.instanceInterfaces(ctx, t.instances)
			if err != nil {
				return nil, err
			}
			enis = append(enis, ids...)
		}
		for _, f := range []struct {
			name   string
			values []string
		}{
			{"network-interface-id", enis},
			{"addresses.private-ip-address", t.privateV4},
			{"association.public-ip", t.publicV4},
			{"ipv6-addresses.ipv6-address", t.v6},
		} {
			if err := r.listInterfacesBy(ctx, f.name, f.values); err != nil {
				return nil, err
			}
		}
	}

	// Groups: those of the interfaces and the declared ones, then the
	// same-account groups their rules reference.
	if scope.All {
		if err := r.describeAllGroups(ctx); err != nil {
			return nil, err
		}
	} else {
		primary := sortedSet(scope.Groups)
		for _, ifc := range r.interfaces {
			primary = append(primary, ifc.Groups...)
		}
		// A declared group that does not exist is not a rule's reference:
		// it is only left out.
		if _, err := r.describeGroups(ctx, sortedSet(primary)); err != nil {
			return nil, err
		}
	}
	refs := r.referencedGroups()
	missing, err := r.describeGroups(ctx, refs)
	if err != nil {
		return nil, err
	}
	for _, id := range missing {
		r.missing[id] = true
	}

	// Rules, with their sgr- ids.
	if err := r.readRules(ctx, scope.All); err != nil {
		return nil, err
	}

	// Members of the groups: in All mode every interface is known already.
	if !scope.All {
		if err := r.listInterfacesBy(ctx, "group-id", r.groupOrder); err != nil {
			return nil, err
		}
	}
	for _, ifc := range r.interfaces {
		for _, g := range ifc.Groups {
			if sg, ok := r.groups[g]; ok && !slices.Contains(sg.Attachments, ifc.ID) {
				sg.Attachments = append(sg.Attachments, ifc.ID)
			}
		}
	}

	if err := r.readPrefixLists(ctx); err != nil {
		return nil, err
	}

	// Network ACLs of the interfaces' subnets, and the subnets' CIDR
	// blocks (an ACL does not filter traffic within its subnet, whoever
	// the client is).
	if scope.All {
		if err := r.readACLs(ctx, nil); err != nil {
			return nil, err
		}
		if err := r.readSubnets(ctx, nil); err != nil {
			return nil, err
		}
	} else {
		var subnets []string
		for _, ifc := range r.interfaces {
			if ifc.Subnet != "" {
				subnets = append(subnets, ifc.Subnet)
			}
		}
		for _, chunk := range chunks(sortedSet(subnets)) {
			if err := r.readACLs(ctx, []types.Filter{filter("association.subnet-id", chunk)}); err != nil {
				return nil, err
			}
			if err := r.readSubnets(ctx, []types.Filter{filter("subnet-id", chunk)}); err != nil {
				return nil, err
			}
		}
	}
	return r.snapshot(scope.All), nil
}

// snapshot assembles what was read, in a stable order.
func (r *reader) snapshot(complete bool) *cloud.Snapshot {
	s := &cloud.Snapshot{
		Provider:    cloud.AWS,
		Region:      r.region,
		Interfaces:  []cloud.Interface{},
		Groups:      r.groups,
		ACLs:        []*cloud.NetworkACL{},
		PrefixLists: r.prefixLists,
		Complete:    complete,
	}
	for _, ifc := range r.interfaces {
		s.Interfaces = append(s.Interfaces, ifc)
	}
	sort.Slice(s.Interfaces, func(i, j int) bool { return s.Interfaces[i].ID < s.Interfaces[j].ID })
	for _, sg := range r.groups {
		slices.Sort(sg.Attachments)
		// Every group read had its members listed: by group-id
		// (targets), or with every interface of the region (All).
		sg.MembersListed = true
	}
	for _, acl := range r.acls {
		slices.Sort(acl.Subnets)
		s.ACLs = append(s.ACLs, acl)
	}
	for _, id := range slices.Sorted(maps.Keys(r.subnets)) {
		s.Subnets = append(s.Subnets, *r.subnets[id])
	}
	sort.Slice(s.ACLs, func(i, j int) bool { return s.ACLs[i].ID < s.ACLs[j].ID })
	for id := range r.missing {
		s.MissingGroups = append(s.MissingGroups, id)
	}
	slices.Sort(s.MissingGroups)
	s.Account = r.account()
	return s
}

// account is the most common owner of the groups, else of the interfaces,
// else of the ACLs (ties: the smallest id): see the package doc.
func (r *reader) account() string {
	for _, owners := range [][]string{r.groupOwners(), mapValues(r.eniOwners), r.aclOwners()} {
		if a := mostCommon(owners); a != "" {
			return a
		}
	}
	return ""
}

func (r *reader) groupOwners() []string {
	var out []string
	for _, sg := range r.groups {
		out = append(out, sg.Account)
	}
	return out
}

func (r *reader) aclOwners() []string {
	var out []string
	for _, acl := range r.acls {
		out = append(out, acl.Account)
	}
	return out
}

// instanceInterfaces lists the ENIs attached to instances.
func (r *reader) instanceInterfaces(ctx context.Context, instances []string) ([]string, error) {
	var enis []string
	for _, chunk := range chunks(sortedSet(instances)) {
		p := ec2.NewDescribeInstancesPaginator(r.client, &ec2.DescribeInstancesInput{
			Filters: []types.Filter{filter("instance-id", chunk)},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("aws: reading instances: %w", apiError(err))
			}
			for _, res := range out.Reservations {
				for _, inst := range res.Instances {
					for _, n := range inst.NetworkInterfaces {
						if id := aws.ToString(n.NetworkInterfaceId); id != "" {
							enis = append(enis, id)
						}
					}
				}
			}
		}
	}
	return enis, nil
}

// listInterfacesBy lists the ENIs matching any of values of one filter.
func (r *reader) listInterfacesBy(ctx context.Context, name string, values []string) error {
	values = sortedSet(values)
	for _, chunk := range chunks(values) {
		if err := r.listInterfaces(ctx, []types.Filter{filter(name, chunk)}); err != nil {
			return err
		}
	}
	return nil
}

// listInterfaces lists ENIs; no filter lists every ENI of the region.
func (r *reader) listInterfaces(ctx context.Context, filters []types.Filter) error {
	p := ec2.NewDescribeNetworkInterfacesPaginator(r.client, &ec2.DescribeNetworkInterfacesInput{Filters: filters})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("aws: reading network interfaces: %w", apiError(err))
		}
		for _, n := range out.NetworkInterfaces {
			ifc, err := convertInterface(n)
			if err != nil {
				return err
			}
			r.interfaces[ifc.ID] = ifc
			r.eniOwners[ifc.ID] = aws.ToString(n.OwnerId)
		}
	}
	return nil
}

// describeAllGroups reads every security group of the region.
func (r *reader) describeAllGroups(ctx context.Context) error {
	groups, err := r.describeGroupsOnce(ctx, nil)
	if err != nil {
		return fmt.Errorf("aws: reading security groups: %w", apiError(err))
	}
	r.addGroups(groups)
	return nil
}

// describeGroups reads the groups of ids not read yet and returns those
// the API says do not exist: on InvalidGroup.NotFound the ids its message
// names are dropped and the call is made again; when the message names
// none of them, the ids are asked one by one.
func (r *reader) describeGroups(ctx context.Context, ids []string) (missing []string, err error) {
	var todo []string
	for _, id := range ids {
		if _, ok := r.groups[id]; !ok {
			todo = append(todo, id)
		}
	}
	for _, chunk := range chunks(todo) {
		found, gone, err := describeExisting(ctx, chunk, "InvalidGroup", sgID, r.describeGroupsOnce)
		if err != nil {
			return nil, fmt.Errorf("aws: reading security groups: %w", apiError(err))
		}
		r.addGroups(found)
		missing = append(missing, gone...)
	}
	return missing, nil
}

func (r *reader) describeGroupsOnce(ctx context.Context, ids []string) ([]types.SecurityGroup, error) {
	var groups []types.SecurityGroup
	p := ec2.NewDescribeSecurityGroupsPaginator(r.client, &ec2.DescribeSecurityGroupsInput{GroupIds: ids})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		groups = append(groups, out.SecurityGroups...)
	}
	return groups, nil
}

func (r *reader) addGroups(groups []types.SecurityGroup) {
	for _, g := range groups {
		id := aws.ToString(g.GroupId)
		if _, ok := r.groups[id]; ok || id == "" {
			continue
		}
		r.groups[id] = &cloud.SecurityGroup{
			Provider:    cloud.AWS,
			Account:     aws.ToString(g.OwnerId),
			Region:      r.region,
			ID:          id,
			Name:        aws.ToString(g.GroupName),
			VPC:         aws.ToString(g.VpcId),
			Rules:       []cloud.Rule{},
			Attachments: []string{},
		}
		r.groupOrder = append(r.groupOrder, id)
		r.groupPerms[id] = append(slices.Clone(g.IpPermissions), g.IpPermissionsEgress...)
	}
}

// referencedGroups are the groups that the rules of the groups read name,
// in the same account, and that are not read yet.
func (r *reader) referencedGroups() []string {
	var refs []string
	for _, id := range r.groupOrder {
		owner := r.groups[id].Account
		for _, perm := range r.groupPerms[id] {
			for _, pair := range perm.UserIdGroupPairs {
				ref := aws.ToString(pair.GroupId)
				user := aws.ToString(pair.UserId)
				if ref == "" || (user != "" && owner != "" && user != owner) {
					continue
				}
				if _, ok := r.groups[ref]; !ok {
					refs = append(refs, ref)
				}
			}
		}
	}
	return sortedSet(refs)
}

// readRules reads the rules of every group read.
func (r *reader) readRules(ctx context.Context, all bool) error {
	if len(r.groupOrder) == 0 {
		return nil
	}
	var calls [][]types.Filter
	if all {
		calls = [][]types.Filter{nil}
	} else {
		for _, chunk := range chunks(sortedSet(r.groupOrder)) {
			calls = append(calls, []types.Filter{filter("group-id", chunk)})
		}
	}
	for _, filters := range calls {
		p := ec2.NewDescribeSecurityGroupRulesPaginator(r.client, &ec2.DescribeSecurityGroupRulesInput{Filters: filters})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("aws: reading security group rules: %w", apiError(err))
			}
			for _, rule := range out.SecurityGroupRules {
				sg, ok := r.groups[aws.ToString(rule.GroupId)]
				if !ok {
					continue
				}
				cr, err := convertRule(rule)
				if err != nil {
					return err
				}
				sg.Rules = append(sg.Rules, cr)
			}
		}
	}
	return nil
}

// readPrefixLists reads the prefix lists that rules name. A list the API
// says does not exist (or is not shared with this account) is left out of
// the snapshot, which makes the rules naming it indeterminate.
func (r *reader) readPrefixLists(ctx context.Context) error {
	var ids []string
	for _, sg := range r.groups {
		for _, rule := range sg.Rules {
			if rule.Peer.PrefixList != "" {
				ids = append(ids, rule.Peer.PrefixList)
			}
		}
	}
	for _, chunk := range chunks(sortedSet(ids)) {
		lists, _, err := describeExisting(ctx, chunk, "InvalidPrefixListID", plID, r.describePrefixListsOnce)
		if err != nil {
			return fmt.Errorf("aws: reading prefix lists: %w", apiError(err))
		}
		for _, l := range lists {
			pl := &cloud.PrefixList{ID: aws.ToString(l.PrefixListId), Name: aws.ToString(l.PrefixListName), CIDRs: []netip.Prefix{}}
			p := ec2.NewGetManagedPrefixListEntriesPaginator(r.client, &ec2.GetManagedPrefixListEntriesInput{PrefixListId: l.PrefixListId})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("aws: reading the entries of prefix list %s: %w", pl.ID, apiError(err))
				}
				for _, e := range out.Entries {
					cidr, err := parsePrefix(aws.ToString(e.Cidr))
					if err != nil {
						return fmt.Errorf("aws: prefix list %s: %w", pl.ID, err)
					}
					pl.CIDRs = append(pl.CIDRs, cidr)
				}
			}
			r.prefixLists[pl.ID] = pl
		}
	}
	return nil
}

func (r *reader) describePrefixListsOnce(ctx context.Context, ids []string) ([]types.ManagedPrefixList, error) {
	var lists []types.ManagedPrefixList
	p := ec2.NewDescribeManagedPrefixListsPaginator(r.client, &ec2.DescribeManagedPrefixListsInput{PrefixListIds: ids})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		lists = append(lists, out.PrefixLists...)
	}
	return lists, nil
}

// readACLs reads network ACLs; no filter reads every ACL of the region.
func (r *reader) readACLs(ctx context.Context, filters []types.Filter) error {
	p := ec2.NewDescribeNetworkAclsPaginator(r.client, &ec2.DescribeNetworkAclsInput{Filters: filters})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("aws: reading network ACLs: %w", apiError(err))
		}
		for _, a := range out.NetworkAcls {
			acl, err := convertACL(a, r.region)
			if err != nil {
				return err
			}
			r.acls[acl.ID] = acl
		}
	}
	return nil
}

// readSubnets reads subnets with their CIDR blocks; no filter reads every
// subnet of the region. An IPv6 block counts while it is associated.
func (r *reader) readSubnets(ctx context.Context, filters []types.Filter) error {
	p := ec2.NewDescribeSubnetsPaginator(r.client, &ec2.DescribeSubnetsInput{Filters: filters})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("aws: reading subnets: %w", apiError(err))
		}
		for _, sn := range out.Subnets {
			s, err := convertSubnet(sn)
			if err != nil {
				return err
			}
			r.subnets[s.ID] = s
		}
	}
	return nil
}

var (
	sgID = regexp.MustCompile(`\bsg-[0-9A-Za-z]+`)
	plID = regexp.MustCompile(`\bpl-[0-9A-Za-z]+`)
)

// describeExisting calls describe with ids; when the API answers that some
// of them do not exist (an error code starting with notFoundKind and ending
// in .NotFound), it drops the ids the message names and calls again, or,
// when the message names none of the ids asked, asks each id alone. It
// returns what was found and the ids that do not exist.
func describeExisting[T any](ctx context.Context, ids []string, notFoundKind string, idPattern *regexp.Regexp,
	describe func(context.Context, []string) ([]T, error)) (found []T, missing []string, err error) {
	remaining := slices.Clone(ids)
	for len(remaining) > 0 {
		items, err := describe(ctx, remaining)
		if err == nil {
			return append(found, items...), missing, nil
		}
		msg, ok := isNotFound(err, notFoundKind)
		if !ok {
			return nil, nil, err
		}
		var named []string
		for _, id := range idPattern.FindAllString(msg, -1) {
			if slices.Contains(remaining, id) && !slices.Contains(named, id) {
				named = append(named, id)
			}
		}
		if len(named) == 0 {
			if len(remaining) == 1 {
				return found, append(missing, remaining...), nil
			}
			for _, id := range remaining {
				items, gone, err := describeExisting(ctx, []string{id}, notFoundKind, idPattern, describe)
				if err != nil {
					return nil, nil, err
				}
				found = append(found, items...)
				missing = append(missing, gone...)
			}
			return found, missing, nil
		}
		missing = append(missing, named...)
		remaining = slices.DeleteFunc(remaining, func(id string) bool { return slices.Contains(named, id) })
	}
	return found, missing, nil
}

func filter(name string, values []string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

// chunks splits values into slices of at most maxFilterValues.
func chunks(values []string) [][]string {
	var out [][]string
	for len(values) > maxFilterValues {
		out = append(out, values[:maxFilterValues])
		values = values[maxFilterValues:]
	}
	if len(values) > 0 {
		out = append(out, values)
	}
	return out
}

// sortedSet returns the distinct non-empty values, sorted.
func sortedSet(values []string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// mostCommon is the most frequent non-empty value (ties: the smallest).
func mostCommon(values []string) string {
	count := map[string]int{}
	best := ""
	for _, v := range values {
		if v != "" {
			count[v]++
		}
	}
	for v, n := range count {
		if n > count[best] || (n == count[best] && v < best) {
			best = v
		}
	}
	return best
}
