package msgpack_test

import (
	"context"
	"fmt"

	"github.com/gocaches/caches"
	"github.com/gocaches/caches/codecs/msgpack"
)

type Session struct {
	User  string   `json:"user"`
	Roles []string `json:"roles"`
	Token string   `json:"-"`
}

func Example() {
	ctx := context.Background()
	sessions := caches.NewKeyCache[Session](caches.Options{Prefix: "example:session", Codec: msgpack.Codec})
	_ = sessions.Key("s1").Set(ctx, Session{User: "ada", Roles: []string{"admin"}, Token: "secret"})
	s, _ := sessions.Key("s1").Get(ctx)
	fmt.Printf("%+v\n", s)

	stored, _ := msgpack.Codec.Marshal(Session{User: "ada", Roles: []string{"admin"}})
	fmt.Printf("%d bytes: % x\n", len(stored), stored)
	// Output:
	// {User:ada Roles:[admin] Token:}
	// 23 bytes: 82 a4 75 73 65 72 a3 61 64 61 a5 72 6f 6c 65 73 91 a5 61 64 6d 69 6e
}
