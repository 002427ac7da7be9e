// Package caches gives Go programs typed data structures that live in Redis:
// a value per key ([KeyCache]), a map ([DictCache]), a set ([SetCache]), a
// sorted set ([SortedSetCache]) and a counter ([CounterCache]), each under a
// readable prefixed key with an expiry refreshed by every write.
//
// # Connections
//
// Families find their connection by name in a registry filled, at first
// use, from the environment: CACHES_DSN defines the default connection and
// every CACHES_DSN_<suffix> variable one more, named by the DSN's #fragment.
// With no variable set the default connection is an in-process store that
// behaves like Redis, so a program works with no server at all. [Register]
// adds connections in code; [Configure] reads the environment early to fail
// fast; [Close] closes them all.
//
// # DSN grammar
//
//	scheme://[user[:password]@]host[:port][,host:port…][/path][?option=value…][#name]
//
// with the schemes redis, rediss, unix, redis+cluster, rediss+cluster,
// redis+sentinel, rediss+sentinel and memory. [Open] documents the grammar,
// every option and the errors; an error from a variable names the variable.
//
// # Keys
//
// A handle's Redis key is the family's prefix followed, for each argument, by
// ":" and the argument's text: prefix "user" and Key(42, "eu") give user:42:eu.
// Inside an argument '%', ':', '{' and '}' are written %25, %3A, %7B and %7D,
// so different argument lists never share a key and no argument creates a
// Cluster hash tag. Arguments may be strings, byte slices, integers, floats,
// bools and fmt.Stringers (and named types of those kinds); empty strings,
// zeros and false are kept. Arguments are identified by their text: Key(1)
// and Key("1") are the same key. With [Options.HashTag] the prefix is written
// {user}, so all keys of the family share one Cluster slot. On one
// connection no family's prefix may be another's followed by ":" (user and
// user:eu would share keys): the second family is refused with
// [ErrPrefixOverlap] (see [Options.Prefix]).
//
// # Expiry
//
// A family's keys expire [DefaultTTL] (two hours) after their last write
// unless [Options.TTL] says otherwise; [NoExpiry] keeps them until deleted.
// Every write refreshes the expiry of the key it writes, atomically with the
// write. Explicit TTLs of zero or less delete the key, as Redis's EXPIRE does,
// except [NoExpiry], which means without expiry wherever a TTL is taken.
//
// # Values
//
// Strings, byte slices, integers, floats and bools are stored as their text,
// as redis-cli shows them, so Redis's increments work on them; other types
// are encoded by the family's [Codec], JSON by default. A value that cannot
// be decoded is a [*DecodeError] naming the key; a miss is [ErrNotFound].
package caches
