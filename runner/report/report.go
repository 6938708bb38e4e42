// Package report renders plans and verify results: text (a Terraform-like
// ladder), JSON (the versioned contract) and JUnit XML.
package report

import (
	"github.com/portcheck/portcheck/runner"
)

// Reporter receives a plan, then one result per endpoint as it finishes,
// then the summary; Finish returns the exit code.
type Reporter interface {
	Start(plan *runner.Plan)
	Endpoint(er *runner.EndpointResult)
	Finish(sum runner.Summary) (int, error)
}

// Multi fans out to several reporters (e.g. text on stdout and JUnit to a
// file); the exit code is the first non-zero one, the error the first one.
type Multi []Reporter

func (m Multi) Start(p *runner.Plan) {
	for _, r := range m {
		r.Start(p)
	}
}

func (m Multi) Endpoint(er *runner.EndpointResult) {
	for _, r := range m {
		r.Endpoint(er)
	}
}

func (m Multi) Finish(sum runner.Summary) (int, error) {
	code, firstErr := sum.ExitCode(), error(nil)
	for _, r := range m {
		c, err := r.Finish(sum)
		if c != 0 && code == 0 {
			code = c
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return code, firstErr
}

// inPlanOrder re-orders endpoints that finish in any order into plan order,
// releasing each as soon as all before it are done, so streaming output is
// deterministic. What it holds back is whatever the reporter keeps of an
// endpoint (T): the JSON and JUnit reporters keep the encoded bytes, not
// the results with their evidence, so an endpoint that finishes late does
// not pin every later endpoint's evidence in memory.
type inPlanOrder[T any] struct {
	plan    *runner.Plan
	index   map[*runner.EndpointPlan]int
	pending map[int]T
	seen    []bool
	next    int
}

func newInPlanOrder[T any](p *runner.Plan) *inPlanOrder[T] {
	o := &inPlanOrder[T]{plan: p, index: make(map[*runner.EndpointPlan]int, len(p.Endpoints)), pending: map[int]T{}, seen: make([]bool, len(p.Endpoints))}
	for i, e := range p.Endpoints {
		o.index[e] = i
	}
	return o
}

// add stores what is kept of er and returns what is now ready, in order.
func (o *inPlanOrder[T]) add(er *runner.EndpointResult, kept T) []T {
	i := o.index[er.Plan]
	o.pending[i] = kept
	o.seen[i] = true
	var out []T
	for {
		r, ok := o.pending[o.next]
		if !ok {
			return out
		}
		delete(o.pending, o.next)
		o.next++
		out = append(out, r)
	}
}

// isNext reports whether er is the next endpoint in plan order, whose
// output can then be written at once.
func (o *inPlanOrder[T]) isNext(er *runner.EndpointResult) bool {
	i, ok := o.index[er.Plan]
	return ok && i == o.next
}

// rest returns what is still held back (after an interruption), in order.
func (o *inPlanOrder[T]) rest() []T {
	var out []T
	for i := o.next; len(o.pending) > 0; i++ {
		if r, ok := o.pending[i]; ok {
			out = append(out, r)
			delete(o.pending, i)
		}
	}
	return out
}

// unfinished lists the planned endpoints no result arrived for (an
// interrupted run), in plan order.
func (o *inPlanOrder[T]) unfinished() []*runner.EndpointPlan {
	var out []*runner.EndpointPlan
	for i, e := range o.plan.Endpoints {
		if !o.seen[i] {
			out = append(out, e)
		}
	}
	return out
}
