package redistest

import "github.com/gocaches/caches/internal/keyslot"

// SlotCount is the number of hash slots in a Redis cluster.
const SlotCount = keyslot.Count

// Slot returns the cluster hash slot of key, as CLUSTER KEYSLOT does.
func Slot(key string) int { return keyslot.Slot(key) }
