package runner

import (
	"fmt"

	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/probe"
)

// paramsFor maps a check's declarations to its provider's parameters. The
// expectations that decide pass or fail stay here in the runner.
func paramsFor(c *Check, ep *config.Endpoint) (any, error) {
	x := ep.Expect
	switch c.Name {
	case "connectivity":
		p := probe.Params{Timeout: ep.Timeout, Retries: ep.Retries}
		if k := x.Connectivity; k != nil {
			if k.Timeout > 0 {
				p.Timeout = k.Timeout
			}
			if k.Retries != nil {
				p.Retries = *k.Retries
			}
			p.Payload = k.Payload
		}
		return p, nil
	case "http":
		h := x.HTTP
		p := app.HTTPParams{
			Scheme: h.Scheme, Method: h.Method, Path: h.Path, HostHeader: h.HostHeader,
			Headers: h.Headers, Insecure: h.Insecure, Timeout: h.Timeout, BodyPattern: h.BodyRegexp,
			TLS: app.TLSParams{ServerName: h.ServerName, CAFile: h.CAFile, ClientCert: h.ClientCert.CertFile, ClientKey: h.ClientCert.KeyFile},
		}
		return p, nil
	case "tls":
		t := x.TLS
		return app.TLSParams{ServerName: t.ServerName, CAFile: t.CAFile, Timeout: t.Timeout, RefuseBelow: t.MinVersion,
			ClientCert: t.ClientCert.CertFile, ClientKey: t.ClientCert.KeyFile}, nil
	case "grpc":
		g := x.GRPC
		return app.GRPCParams{Service: g.Service, TLS: g.TLS, Timeout: g.Timeout,
			TLSParams: app.TLSParams{ServerName: g.ServerName, CAFile: g.CAFile, ClientCert: g.ClientCert.CertFile, ClientKey: g.ClientCert.KeyFile}}, nil
	case "banner":
		return app.BannerParams{Send: x.Banner.Send, Timeout: x.Banner.Timeout}, nil
	}
	return nil, fmt.Errorf("no parameters known for check %q", c.Name)
}
