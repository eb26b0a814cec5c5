//go:build tools

// Keeps the daemon main packages in this module's graph so `go mod tidy`
// records every checksum they need. Never compiled.
package daemons

import (
	_ "github.com/btcsuite/btcd"
	_ "github.com/btcsuite/btcd/cmd/btcctl"
	_ "github.com/lightningnetwork/lnd/cmd/lncli"
	_ "github.com/lightningnetwork/lnd/cmd/lnd"
)
