package memstore

import (
	"testing"

	"github.com/gocaches/caches/internal/backend"
	"github.com/gocaches/caches/internal/backend/backendtest"
)

// TestBackend checks the store against the backend contract, its clock
// moved by FastForward.
func TestBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return New(Options{}) }, backendtest.Options{})
}
