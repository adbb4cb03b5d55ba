package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/websoft9/stackhub/gateway"
	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/orchestrator/sqlite"
	"github.com/websoft9/stackhub/web/wire"
)

// domainStore is the store of domains when the gateway runs (nil: the
// engine answers that domains need it).
func domainStore(cfg Config, db *sqlite.DB) orchestrator.DomainStore {
	if !cfg.Gateway {
		return nil
	}
	return db
}

// startGateway starts the gateway: the engine's routes, the console's
// handler for the console's domains, certificates kept in the data
// directory.
func startGateway(ctx context.Context, cfg Config, engine *orchestrator.Engine, console http.Handler, log *slog.Logger) (*gateway.Gateway, error) {
	o := gateway.Options{HTTPAddr: cfg.GatewayHTTP, HTTPSAddr: cfg.GatewayHTTPS, CA: cfg.ACMECA, Email: cfg.ACMEEmail,
		StorageDir: filepath.Join(cfg.DataDir, "gateway"), Routes: engine.Routes, Console: console, Logger: log,
		Report: func(ctx context.Context, name string, c orchestrator.Certificate) {
			if err := engine.SetCertificate(ctx, name, c); err != nil {
				log.Warn("gateway: record a certificate's state", "domain", name, "err", err)
			}
		}}
	if cfg.TLSInternal {
		o.Mode = gateway.ModeInternal
	}
	if cfg.ACMECARoots != "" {
		pem, err := os.ReadFile(cfg.ACMECARoots)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-roots: %w", err)
		}
		o.CARoots = x509.NewCertPool()
		if !o.CARoots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca-roots %s holds no PEM certificate", cfg.ACMECARoots)
		}
	}
	if err := os.MkdirAll(o.StorageDir, 0o700); err != nil {
		return nil, err
	}
	gw, err := gateway.New(o)
	if err != nil {
		return nil, err
	}
	if err := gw.Start(ctx); err != nil {
		return nil, err
	}
	return gw, nil
}

// gatewayInfo is GET /api/v1/gateway's answer (the console's domains are
// added by the handler).
func gatewayInfo(cfg Config, gw *gateway.Gateway) wire.Gateway {
	out := wire.Gateway{Enabled: true, Mode: gateway.ModeACME, CA: cfg.ACMECA, RootCA: string(gw.RootCA())}
	if cfg.TLSInternal {
		out.Mode, out.CA = gateway.ModeInternal, ""
	} else if out.CA == "" {
		out.CA = "Let's Encrypt"
	}
	if a := gw.Addrs(); len(a) == 2 {
		out.HTTP, out.HTTPS = a[0].String(), a[1].String()
	}
	return out
}
