package probe

import "time"

// Timer bounds, as nmap and TCP use them. MinTimeout is nmap's default
// min-rtt-timeout: an adaptive wait never goes below it, so a path whose
// round trip is 0.1 ms still gives an answer 1000 times its usual time
// (and the scheduling jitter of a loaded machine) before silence counts.
const (
	MinTimeout = 100 * time.Millisecond
	// clockGranularity is RFC 6298's G: the floor of the variance term.
	clockGranularity = time.Millisecond
	// synRetransmit is Linux's initial SYN retransmission timeout
	// (TCP_TIMEOUT_INIT): an answer that came later may answer the kernel's
	// second SYN, so its time is no round trip (Karn's rule).
	synRetransmit = time.Second
)

// Estimator is RFC 6298's round-trip estimator for one target host: a
// smoothed RTT and its mean deviation, from answers seen. The zero value
// has no samples. It is not safe for concurrent use; hostTiming guards it.
type Estimator struct {
	SRTT, RTTVar time.Duration
	Samples      int
}

// Sample adds one measured round trip (RFC 6298 section 2: alpha 1/8, beta 1/4).
func (e *Estimator) Sample(r time.Duration) {
	if r < 0 {
		return
	}
	if e.Samples == 0 {
		e.SRTT, e.RTTVar = r, r/2
	} else {
		d := e.SRTT - r
		if d < 0 {
			d = -d
		}
		e.RTTVar = (3*e.RTTVar + d) / 4
		e.SRTT = (7*e.SRTT + r) / 8
	}
	e.Samples++
}

// Timeout is the wait for an attempt (0 = first) when the declared timeout
// is declared: the declared timeout while there is no sample, else the
// retransmission timeout SRTT + max(G, 4·RTTVAR), doubled per earlier
// attempt (RFC 6298's back-off), never below MinTimeout and never above
// declared. adaptive is false when the declared timeout is what applies.
func (e *Estimator) Timeout(attempt int, declared time.Duration) (d time.Duration, adaptive bool) {
	if e.Samples == 0 || declared <= MinTimeout {
		return declared, false
	}
	rto := e.SRTT + max(clockGranularity, 4*e.RTTVar)
	rto = max(rto, MinTimeout)
	for range attempt {
		rto *= 2
		if rto >= declared {
			break
		}
	}
	if rto >= declared {
		return declared, false
	}
	return rto, true
}
