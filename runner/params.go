package runner

import (
	"github.com/portcheck/portcheck/config"
	"github.com/portcheck/portcheck/providers/app"
	"github.com/portcheck/portcheck/providers/probe"
)

// These map a check's declarations to its observer's parameters, typed.
// The expectations that decide pass or fail stay in the evaluators.

func probeParams(ep *config.Endpoint) probe.Params {
	p := probe.Params{Timeout: ep.Timeout, Retries: ep.Retries}
	if k := ep.Expect.Connectivity; k != nil {
		if k.Timeout > 0 {
			p.Timeout = k.Timeout
		}
		if k.Retries != nil {
			p.Retries = *k.Retries
		}
		p.Payload = k.Payload
	}
	return p
}

func httpParams(ep *config.Endpoint) app.HTTPParams {
	h := ep.Expect.HTTP
	return app.HTTPParams{
		Scheme: h.Scheme, Method: h.Method, Path: h.Path, HostHeader: h.HostHeader,
		Headers: h.Headers, Insecure: h.Insecure, Timeout: h.Timeout, BodyPattern: h.BodyRegexp,
		TLS: app.TLSParams{ServerName: h.ServerName, CAFile: h.CAFile, ClientCert: h.ClientCert.CertFile, ClientKey: h.ClientCert.KeyFile},
	}
}

func tlsParams(ep *config.Endpoint) app.TLSParams {
	t := ep.Expect.TLS
	return app.TLSParams{ServerName: t.ServerName, CAFile: t.CAFile, Timeout: t.Timeout, RefuseBelow: t.MinVersion,
		ClientCert: t.ClientCert.CertFile, ClientKey: t.ClientCert.KeyFile}
}

func grpcParams(ep *config.Endpoint) app.GRPCParams {
	g := ep.Expect.GRPC
	return app.GRPCParams{Service: g.Service, TLS: g.TLS, Timeout: g.Timeout,
		TLSParams: app.TLSParams{ServerName: g.ServerName, CAFile: g.CAFile, ClientCert: g.ClientCert.CertFile, ClientKey: g.ClientCert.KeyFile}}
}

func bannerParams(ep *config.Endpoint) app.BannerParams {
	return app.BannerParams{Send: ep.Expect.Banner.Send, Timeout: ep.Expect.Banner.Timeout}
}
