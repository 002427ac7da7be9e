// Package keyslot computes Redis Cluster hash slots.
package keyslot

// Count is the number of hash slots in a Redis cluster.
const Count = 16384

// Slot returns the cluster hash slot of key, as CLUSTER KEYSLOT does: the
// CRC16 (XMODEM) of the key modulo 16384, where only the part between the
// first "{" and the next "}" is hashed when that part is not empty.
func Slot(key string) int {
	return int(crc16(hashTag(key)) % Count)
}

// hashTag returns the part of key that decides its slot.
func hashTag(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j == i+1 {
					return key // "{}" hashes the whole key
				}
				return key[i+1 : j]
			}
		}
		return key // no "}" after the first "{"
	}
	return key
}

// crc16Table is the CRC16-CCITT (XMODEM) table for polynomial 0x1021.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for b := 0; b < 8; b++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 is the CRC16 Redis Cluster uses: XMODEM, initial value 0.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}
