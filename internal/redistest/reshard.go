package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// migrateTimeout is the MIGRATE timeout, in milliseconds.
const migrateTimeout = 5000

// SlotMigration moves one slot of a [Cluster], with its keys, from its
// master to another, step by step as a resharding does, so that tests can
// run commands while the slot is half moved.
type SlotMigration struct {
	c            *Cluster
	slot         int
	from, to     *redis.Client
	toAddr       string
	fromID, toID string // node IDs
}

// StartSlotMigration marks slot as moving from its master to the master at
// address to: CLUSTER SETSLOT IMPORTING on the target, then MIGRATING on
// the source. No key moves yet; [SlotMigration.Migrate] moves them and
// [SlotMigration.Finish] completes the move.
func (c *Cluster) StartSlotMigration(ctx context.Context, slot int, to string) (*SlotMigration, error) {
	from := c.slotMaster(slot)
	if from == to {
		return nil, fmt.Errorf("redistest: slot %d is already on %s", slot, to)
	}
	m := &SlotMigration{c: c, slot: slot, toAddr: to,
		from: redis.NewClient(&redis.Options{Addr: from, Password: c.Password}),
		to:   redis.NewClient(&redis.Options{Addr: to, Password: c.Password})}
	err := m.start(ctx)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("redistest: moving slot %d from %s to %s: %w", slot, from, to, err)
	}
	return m, nil
}

func (m *SlotMigration) start(ctx context.Context) error {
	var err error
	if m.fromID, err = m.from.ClusterMyID(ctx).Result(); err != nil {
		return err
	}
	if m.toID, err = m.to.ClusterMyID(ctx).Result(); err != nil {
		return err
	}
	if err := m.to.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "IMPORTING", m.fromID).Err(); err != nil {
		return err
	}
	return m.from.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "MIGRATING", m.toID).Err()
}

// Migrate moves up to n of the slot's keys (all of them when n <= 0) from
// the source to the target with MIGRATE … KEYS, and returns how many it
// moved.
func (m *SlotMigration) Migrate(ctx context.Context, n int) (int, error) {
	host, port, err := net.SplitHostPort(m.toAddr)
	if err != nil {
		return 0, err
	}
	moved := 0
	for n <= 0 || moved < n {
		batch := 100
		if n > 0 {
			batch = min(batch, n-moved)
		}
		keys, err := m.from.ClusterGetKeysInSlot(ctx, m.slot, batch).Result()
		if err != nil || len(keys) == 0 {
			return moved, err
		}
		args := []any{"MIGRATE", host, port, "", 0, migrateTimeout}
		if m.c.Password != "" {
			args = append(args, "AUTH", m.c.Password)
		}
		args = append(args, "KEYS")
		for _, k := range keys {
			args = append(args, k)
		}
		if err := m.from.Do(ctx, args...).Err(); err != nil {
			return moved, fmt.Errorf("redistest: MIGRATE of slot %d: %w", m.slot, err)
		}
		moved += len(keys)
	}
	return moved, nil
}

// Finish moves the slot's remaining keys, assigns the slot to the target
// on every node (CLUSTER SETSLOT NODE: the target first, then the source,
// then the others) and waits up to ten seconds until all nodes agree on the
// new slot map. It releases the migration's connections.
func (m *SlotMigration) Finish(ctx context.Context) error {
	defer m.close()
	if _, err := m.Migrate(ctx, 0); err != nil {
		return err
	}
	clients := []*redis.Client{m.to, m.from}
	for _, addr := range m.c.Addrs {
		if addr != m.toAddr && addr != m.from.Options().Addr {
			cl := redis.NewClient(&redis.Options{Addr: addr, Password: m.c.Password})
			defer cl.Close()
			clients = append(clients, cl)
		}
	}
	var errs []error
	for _, cl := range clients {
		if err := cl.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.toID).Err(); err != nil {
			errs = append(errs, fmt.Errorf("redistest: CLUSTER SETSLOT %d NODE on %s: %w", m.slot, cl.Options().Addr, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return m.c.waitAgreed(10 * time.Second)
}

func (m *SlotMigration) close() {
	m.from.Close()
	m.to.Close()
}

// MoveSlot moves slot, with its keys, to the master at address to, and
// waits until every node agrees on the new slot map.
func (c *Cluster) MoveSlot(ctx context.Context, slot int, to string) error {
	m, err := c.StartSlotMigration(ctx, slot, to)
	if err != nil {
		return err
	}
	return m.Finish(ctx)
}
