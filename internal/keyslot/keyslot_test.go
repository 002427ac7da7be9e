package keyslot

import "testing"

func TestSlot(t *testing.T) {
	for key, want := range map[string]int{
		"":                     0,
		"123456789":            0x31C3 % Count, // the XMODEM check value
		"foo":                  12182,
		"bar":                  5061,
		"{user1000}.following": Slot("user1000"),
		"foo{{bar}}zap":        Slot("{bar"),
		"foo{bar}{zap}":        Slot("bar"),
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	for key, tag := range map[string]string{
		"foo{{bar}}zap": "{bar",
		"foo{}{bar}":    "foo{}{bar}",
		"foo{bar}{zap}": "bar",
		"a{b":           "a{b",
	} {
		if got := hashTag(key); got != tag {
			t.Errorf("hashTag(%q) = %q, want %q", key, got, tag)
		}
	}
}
